use connections::prelude::*;

#[derive(Connection)]
#[connection(scope = "user")]
struct UserSession {
    base: BaseConnection<String>,
}

impl UserSession {
    fn _connect(&self, _config: &Config) -> Result<String, BoxError> {
        Ok(String::new())
    }
}

// The attribute's error is the only one: the impl is still emitted, so the
// type's uses compile instead of each saying it is not a connection type.
fn uses(registry: &connections::Registry) -> Result<(), Error> {
    let session = registry.scope("user-1").connection::<UserSession>("session")?;
    session.instance()?;
    connections::connection::<UserSession>("session")?;
    Ok(())
}

fn main() {}
