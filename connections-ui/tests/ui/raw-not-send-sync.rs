use connections::prelude::*;
use std::rc::Rc;

#[derive(Connection)]
struct Sqlite {
    base: BaseConnection<Rc<String>>,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<Rc<String>, BoxError> {
        Ok(Rc::new(String::new()))
    }
}

fn main() {}
