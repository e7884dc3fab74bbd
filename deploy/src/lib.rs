//! ferric-deploy: reserved for the agent deploy interface (ironic-python-agent lookup,
//! heartbeat and command client), PXE/iPXE/HTTP boot configuration and image serving. Not built
//! yet: the conductor's step engine lives in `src/conductor/steps.rs` and the fake, ipmi, redfish
//! and manual-management drivers are in `drivers`.
//!
//! May depend on `model` and `drivers`; never on the conductor, storage, Raft or the API.
