use connections::prelude::*;

#[derive(Connection)]
struct Pg {
    base: BaseConnection<String>,
}

impl Pg {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }

    // A check takes `&self` (and reaches the instance through it), not the raw instance.
    fn _check(raw: &String) -> Result<(), BoxError> {
        if raw.is_empty() { Err("empty".into()) } else { Ok(()) }
    }
}

fn main() {}
