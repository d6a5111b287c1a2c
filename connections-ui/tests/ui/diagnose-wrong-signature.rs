use connections::prelude::*;

#[derive(Connection)]
#[connection(diagnose = Store::diagnose)]
struct Store {
    base: BaseConnection<String>,
}

impl Store {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("url")?)
    }

    // Takes `self` and returns a bool: a diagnose hook takes the section's
    // `&Config` and returns the diagnostics.
    fn diagnose(&self, _config: &Config) -> bool {
        true
    }
}

fn main() {}
