use connections::prelude::*;

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    fn _close(raw: String) -> bool {
        !raw.is_empty()
    }
}

fn main() {}
