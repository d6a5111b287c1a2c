use connections::prelude::*;

#[derive(Connection)]
#[connection(type_name = "my sql")]
struct MySql {
    base: BaseConnection<String>,
}

impl MySql {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

fn main() {}
