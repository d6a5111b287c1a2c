use connections::prelude::*;

#[derive(Connection)]
struct Sqlite {
    path: String,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
