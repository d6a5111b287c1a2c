use std::sync::Arc;
use std::time::Duration;

use connections::{BaseConnection, BoxError, Config, Connection};

#[derive(Connection)]
#[connection(async)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("url")?)
    }
}

fn main() {
    let pg = Arc::new(Pg::from_config("pg", Config::new("pg", Default::default())));
    let _ = pg.instance_ref();
    let _ = pg.instance_timeout(Duration::from_secs(1));
}
