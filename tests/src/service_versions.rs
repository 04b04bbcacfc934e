//! Services are changed against the version the caller read (`expectedVersion`); tests that are about
//! something else read it just before, as a client would.

use serde_json::Value;
use trellis_domain::ServiceId;

use crate::TestApp;

impl TestApp {
    /// The service's version now.
    pub async fn service_version(&self, id: &str) -> u32 {
        let id = ServiceId(uuid::Uuid::parse_str(id).expect("a service id"));
        self.store.service(id).await.expect("the service").version
    }

    /// `variables` with `input.expectedVersion` set to the version of `input.serviceId` now, unless
    /// it is set already or the service does not exist (for tests of unknown ids).
    pub async fn at_current_version(&self, mut variables: Value) -> Value {
        let id = variables.pointer("/input/serviceId").and_then(Value::as_str).map(str::to_owned);
        let Some(input) = variables.get_mut("input").and_then(Value::as_object_mut) else { return variables };
        if input.contains_key("expectedVersion") {
            return variables;
        }
        let version = match id.as_deref().and_then(|id| uuid::Uuid::parse_str(id).ok()) {
            Some(uuid) => self.store.service(ServiceId(uuid)).await.map(|s| s.version).unwrap_or(1),
            None => 1,
        };
        input.insert("expectedVersion".into(), Value::from(version));
        variables
    }
}
