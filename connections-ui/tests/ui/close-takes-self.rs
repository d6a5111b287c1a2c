use connections::prelude::*;

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    // A close hook gets the raw instance by value, and no `self`.
    fn _close(&self, raw: String) -> Result<(), BoxError> {
        drop(raw);
        Ok(())
    }
}

fn main() {}
