use std::rc::Rc;

use connections::{BaseConnection, BoxError, Config, Connection};

#[derive(Connection)]
#[connection(async)]
struct Pg {
    base: BaseConnection<String>,
}

async fn handshake() {}

impl Pg {
    async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        let url: Rc<String> = Rc::new(config.get("url")?);
        handshake().await;
        Ok(url.to_string())
    }
}

fn main() {}
