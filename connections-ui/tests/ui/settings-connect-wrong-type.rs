use connections::prelude::*;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct StoreSettings {
    url: String,
}

#[derive(Connection)]
#[connection(settings = StoreSettings)]
struct Store {
    base: BaseConnection<String>,
}

impl Store {
    // Neither `&Config` nor the settings `&StoreSettings`.
    fn _connect(&self, url: &String) -> Result<String, BoxError> {
        Ok(url.clone())
    }
}

fn main() {}
