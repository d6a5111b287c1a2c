use std::sync::Arc;

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

fn url(pg: &Pg) -> connections::Result<Arc<String>> {
    let raw = pg.instance()?;
    Ok(raw)
}

fn main() {
    let pg = Pg::from_config("pg", Config::new("pg", Default::default()));
    let _ = url(&pg);
}
