use connections::prelude::*;

#[derive(Connection)]
#[connection(typ_name = "sqlite", connect = Self::open, connect = Self::open)]
struct Sqlite {
    base: BaseConnection<String>,
}

impl Sqlite {
    fn open(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
