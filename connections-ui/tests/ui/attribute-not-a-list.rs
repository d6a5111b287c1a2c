use connections::prelude::*;

#[derive(Connection)]
#[connection = "sqlite"]
struct Sqlite {
    base: BaseConnection<String>,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
