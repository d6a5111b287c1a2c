use connections::prelude::*;

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    // `_reconfigure` says whether it took the change: a bool, not a Result.
    fn _reconfigure(&self, _old: &Config, _new: &Config) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
