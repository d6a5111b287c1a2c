use connections::prelude::*;

#[derive(Connection)]
#[connection(connect = Self::open_file)]
struct Sqlite {
    base: BaseConnection<String>,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
