use connections::prelude::*;

#[derive(Connection)]
struct Sqlite {
    base: BaseConnection<String>,
    replica: BaseConnection<String>,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
