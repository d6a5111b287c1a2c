use connections::{BaseConnection, BoxError, Config, Connection};

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("url")?)
    }
}

fn main() {}
