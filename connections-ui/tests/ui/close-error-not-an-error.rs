use connections::prelude::*;

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

struct Refused;

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    fn _close(_raw: String) -> Result<(), Refused> {
        Err(Refused)
    }
}

fn main() {}
