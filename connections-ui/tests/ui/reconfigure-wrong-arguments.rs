use connections::prelude::*;

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    // It gets both the old and the new configuration.
    fn _reconfigure(&self, new: &Config) -> bool {
        new.contains("password")
    }
}

fn main() {}
