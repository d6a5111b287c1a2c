use connections::{BaseConnection, BoxError, Config, Connection};

#[derive(Connection)]
#[connection(async)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("url")?)
    }
}

fn main() {}
