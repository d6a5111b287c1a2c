use connections_core::prelude::*;

#[derive(Connection)]
#[connection(scope = "request")]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
