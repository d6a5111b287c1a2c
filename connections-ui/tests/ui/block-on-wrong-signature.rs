use connections::prelude::*;

#[derive(Connection)]
#[connection(async, block_on = run)]
struct Remote {
    base: BaseConnection<String>,
}

impl Remote {
    async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("url")?)
    }
}

// Takes the future by value: the hook drives a pinned `&mut dyn Future`.
fn run(_future: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {}

fn main() {}
