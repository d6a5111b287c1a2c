use connections::prelude::*;

#[derive(Connection)]
struct Sqlite {
    base: BaseConnection<String>,
}

impl Sqlite {
    fn _connect(&self) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
