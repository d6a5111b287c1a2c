use connections::prelude::*;

#[derive(Connection)]
#[connection(type_name = "db::Sqlite")]
struct Sqlite {
    base: BaseConnection<String>,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
