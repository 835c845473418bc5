//! [`ManagedState`]: values owned by the program (models, running summaries) that are saved
//! in every checkpoint and restored on recovery.

use super::StreamingContext;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::storage::lock;
use std::sync::{Arc, Mutex, MutexGuard};

/// A value owned by the program but saved in every checkpoint and restored on recovery:
/// the model of an online algorithm, a running summary. Update it from output operations
/// (`foreach_rdd`), which run once per batch in order.
///
/// With several workers, every worker holds its own copy and runs the same output
/// operations on the same job results, so the copies stay equal; the leader's is saved.
pub struct ManagedState<S> {
    name: String,
    value: Arc<Mutex<S>>,
}

impl<S> Clone for ManagedState<S> {
    fn clone(&self) -> Self {
        ManagedState {
            name: self.name.clone(),
            value: Arc::clone(&self.value),
        }
    }
}

impl<S: Data> ManagedState<S> {
    /// The state's name (unique within its context).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Locks the value for reading or updating.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        lock(&self.value)
    }

    /// A copy of the value.
    pub fn get(&self) -> S {
        lock(&self.value).clone()
    }

    /// Replaces the value.
    pub fn set(&self, value: S) {
        *lock(&self.value) = value;
    }
}

pub(crate) trait AnyManaged: Send + Sync {
    fn name(&self) -> &str;
    fn value_type(&self) -> &'static str;
    fn snapshot(&self) -> Result<Vec<u8>>;
    fn restore(&self, bytes: &[u8]) -> Result<()>;
}

impl<S: Data> AnyManaged for ManagedState<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn value_type(&self) -> &'static str {
        std::any::type_name::<S>()
    }

    fn snapshot(&self) -> Result<Vec<u8>> {
        bincode::serialize(&*lock(&self.value)).map_err(|e| Error::Serialization {
            what: format!("managed state `{}`", self.name),
            message: e.to_string(),
        })
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        let value: S = bincode::deserialize(bytes).map_err(|e| Error::Serialization {
            what: format!("managed state `{}`", self.name),
            message: e.to_string(),
        })?;
        *lock(&self.value) = value;
        Ok(())
    }
}

impl StreamingContext {
    /// Registers a value that is checkpointed with the stream and restored on recovery.
    /// Names must be unique; register before `start` (and before `get_or_create` returns).
    pub fn managed_state<S: Data>(
        &self,
        name: impl Into<String>,
        initial: S,
    ) -> Result<ManagedState<S>> {
        self.ensure_not_started("register managed state")?;
        let name = name.into();
        let mut graph = lock(&self.inner.graph);
        if graph.managed.iter().any(|m| m.name() == name) {
            return Err(Error::invalid(
                "managed state name",
                name,
                "is already registered",
            ));
        }
        let state = ManagedState {
            name,
            value: Arc::new(Mutex::new(initial)),
        };
        graph.managed.push(Arc::new(state.clone()));
        Ok(state)
    }
}
