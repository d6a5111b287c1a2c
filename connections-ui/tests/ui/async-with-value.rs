use connections::{BaseConnection, BoxError, Config, Connection};

#[derive(Connection)]
#[connection(async = true)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    async fn _connect(&self, _: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
