use connections::prelude::*;

#[derive(Connection)]
struct Counter {
    base: BaseConnection<u64>,
}

impl Counter {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
