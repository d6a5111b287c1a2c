use connections::prelude::*;

struct Pool;

#[derive(Connection)]
struct Sqlite {
    base: BaseConnection<String>,
    pool: Pool,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
