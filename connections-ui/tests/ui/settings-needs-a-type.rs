use connections::prelude::*;

#[derive(Connection)]
#[connection(settings)]
struct Store {
    base: BaseConnection<String>,
}

impl Store {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("url")?)
    }
}

fn main() {}
