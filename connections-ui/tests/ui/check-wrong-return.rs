use connections::prelude::*;

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    // A health check returns `Result<(), E>` (or `()`), not a bool.
    fn _check(&self) -> bool {
        self.is_connected()
    }
}

fn main() {}
