use connections::prelude::*;

// Deserialize but no JsonSchema: the settings cannot be checked or described.
#[derive(serde::Deserialize)]
struct StoreSettings {
    url: String,
}

#[derive(Connection)]
#[connection(settings = StoreSettings)]
struct Store {
    base: BaseConnection<String>,
}

impl Store {
    fn _connect(&self, settings: &StoreSettings) -> Result<String, BoxError> {
        Ok(settings.url.clone())
    }
}

fn main() {}
