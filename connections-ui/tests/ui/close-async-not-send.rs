use std::rc::Rc;

use connections::prelude::*;

#[derive(Connection)]
#[connection(async)]
struct Pg {
    base: BaseConnection<String>,
}

async fn goodbye() {}

impl Pg {
    async fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    async fn _close(raw: String) -> Result<(), BoxError> {
        let raw = Rc::new(raw);
        goodbye().await;
        drop(raw);
        Ok(())
    }
}

fn main() {}
