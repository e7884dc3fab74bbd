//! ferric-api: OpenStack Ironic's REST API v1 (microversions 1.1–1.115) over Ferric, so that
//! `baremetal`, openstacksdk, gophercloud and curl work unchanged.
//!
//! What it does: version discovery and microversion negotiation, Ironic's error bodies and
//! status codes (one mapping, in [`error`]), nodes and their sub-resources, ports, portgroups,
//! chassis, drivers, conductors, the ramdisk lookup/heartbeat endpoints, HTTP basic auth or
//! noauth, TLS with rustls, and Ferric's `/cluster`, `/healthz` and `/metrics`.
//!
//! How it reaches the rest of Ferric: only through [`ferric_model::Backend`]. Reads take the
//! read barrier (linearizable) and then look at the replicated `State`; every write is a
//! `ConductorRequest` through `Backend::call`. Updates are read-modify-write with an expected
//! revision, retried (bounded) when they lose a race, which makes a JSON-patch `test` followed by
//! `replace` a linearizable compare-and-set.
//!
//! Must not depend on anything but `ferric-model` among Ferric's crates (no RocksDB, no Raft).
//! Request bodies and secrets are never logged.

mod app;
mod auth;
mod body;
pub mod config;
pub mod error;
mod handlers;
mod links;
mod listing;
mod params;
mod patch;
mod pipeline;
mod pyjson;
mod render;
mod render_cache;
mod server;
pub mod version;

pub use config::{ApiConfig, AuthStrategy, ConfigError};
pub use error::ApiError;
pub use server::{serve, ServeError};

use app::{App, AppInner};
use axum::middleware::from_fn_with_state;
use axum::routing::{any, delete, get, post, put};
use axum::Router;
use ferric_model::Backend;
use handlers::*;
use handlers::missing_ident;
use std::sync::Arc;

/// Builds the API's router. Validates the configuration and loads the basic-auth user file.
pub fn router(cfg: &ApiConfig, backend: Arc<dyn Backend>) -> Result<Router, ConfigError> {
    cfg.validate()?;
    let auth = match cfg.auth_strategy {
        AuthStrategy::Noauth => None,
        AuthStrategy::HttpBasic => {
            let path = cfg.http_basic_auth_user_file.as_ref().ok_or(ConfigError::MissingUserFile)?;
            Some(auth::BasicAuth::load(path)?)
        }
    };
    let app = App(Arc::new(AppInner { cfg: cfg.clone(), backend, auth, node_json: Default::default() }));

    let api = Router::new()
        .route("/", get(root::root))
        .route("/v1", get(root::v1))
        // nodes
        .route(
            "/v1/nodes",
            get(nodes::list)
                .post(nodes::create)
                .delete(|| async { Err::<(), _>(missing_ident("node_ident")) })
                .patch(|| async { Err::<(), _>(missing_ident("node_ident")) }),
        )
        .route("/v1/nodes/detail", get(nodes::detail))
        .route("/v1/nodes/validate", get(nodes::validate_query))
        .route("/v1/nodes/{node}", get(nodes::show).patch(nodes::patch).delete(nodes::delete))
        .route("/v1/nodes/{node}/validate", get(nodes::validate))
        .route("/v1/nodes/{node}/maintenance", put(nodes::maintenance_set).delete(nodes::maintenance_unset))
        .route("/v1/nodes/{node}/states", get(node_states::get))
        .route("/v1/nodes/{node}/states/power", put(node_states::power))
        .route("/v1/nodes/{node}/states/provision", put(node_states::provision))
        .route("/v1/nodes/{node}/states/raid", put(node_states::raid))
        .route("/v1/nodes/{node}/states/console", get(node_states::console_get).put(node_states::console_set))
        .route("/v1/nodes/{node}/states/boot_mode", put(node_states::boot_mode))
        .route("/v1/nodes/{node}/states/secure_boot", put(node_states::secure_boot))
        .route(
            "/v1/nodes/{node}/management/boot_device",
            get(node_mgmt::boot_device_get).put(node_mgmt::boot_device_set),
        )
        .route("/v1/nodes/{node}/management/boot_device/supported", get(node_mgmt::boot_device_supported))
        .route("/v1/nodes/{node}/management/inject_nmi", put(node_mgmt::inject_nmi))
        .route(
            "/v1/nodes/{node}/traits",
            get(node_mgmt::traits_list).put(node_mgmt::traits_set).delete(node_mgmt::traits_delete_all),
        )
        .route("/v1/nodes/{node}/traits/{trait}", put(node_mgmt::trait_add).delete(node_mgmt::trait_delete))
        .route("/v1/nodes/{node}/vifs", get(node_mgmt::vifs_list).post(node_mgmt::vif_attach))
        .route("/v1/nodes/{node}/vifs/{vif}", delete(node_mgmt::vif_detach))
        .route("/v1/nodes/{node}/vendor_passthru", any(node_mgmt::vendor_call))
        .route("/v1/nodes/{node}/vendor_passthru/methods", get(node_mgmt::vendor_methods))
        .route("/v1/nodes/{node}/ports", get(ports::node_ports))
        .route("/v1/nodes/{node}/ports/detail", get(ports::node_ports_detail))
        .route("/v1/nodes/{node}/portgroups", get(portgroups::node_portgroups))
        .route("/v1/nodes/{node}/portgroups/detail", get(portgroups::node_portgroups_detail))
        // ports
        .route(
            "/v1/ports",
            get(ports::list)
                .post(ports::create)
                .delete(|| async { Err::<(), _>(missing_ident("port_uuid")) })
                .patch(|| async { Err::<(), _>(missing_ident("port_ident")) }),
        )
        .route("/v1/ports/detail", get(ports::detail))
        .route("/v1/ports/{port}", get(ports::show).patch(ports::patch).delete(ports::delete))
        // portgroups
        .route(
            "/v1/portgroups",
            get(portgroups::list)
                .post(portgroups::create)
                .delete(|| async { Err::<(), _>(missing_ident("portgroup_ident")) })
                .patch(|| async { Err::<(), _>(missing_ident("portgroup_ident")) }),
        )
        .route("/v1/portgroups/detail", get(portgroups::detail))
        .route(
            "/v1/portgroups/{pg}",
            get(portgroups::show).patch(portgroups::patch).delete(portgroups::delete),
        )
        .route("/v1/portgroups/{pg}/ports", get(portgroups::ports))
        .route("/v1/portgroups/{pg}/ports/detail", get(portgroups::ports_detail))
        // chassis
        .route(
            "/v1/chassis",
            get(chassis::list)
                .post(chassis::create)
                .delete(|| async { Err::<(), _>(missing_ident("chassis_uuid")) })
                .patch(|| async { Err::<(), _>(missing_ident("chassis_uuid")) }),
        )
        .route("/v1/chassis/detail", get(chassis::detail))
        .route("/v1/chassis/{uuid}", get(chassis::show).patch(chassis::patch).delete(chassis::delete))
        .route("/v1/chassis/{uuid}/nodes", get(chassis::nodes))
        .route("/v1/chassis/{uuid}/nodes/detail", get(chassis::nodes_detail))
        // drivers
        .route("/v1/drivers", get(drivers::list))
        .route("/v1/drivers/{driver}", get(drivers::show))
        .route("/v1/drivers/{driver}/properties", get(drivers::properties))
        .route("/v1/drivers/{driver}/raid/logical_disk_properties", get(drivers::raid_properties))
        .route("/v1/drivers/{driver}/vendor_passthru", any(drivers::vendor_call))
        .route("/v1/drivers/{driver}/vendor_passthru/methods", get(drivers::vendor_methods))
        // conductors
        .route("/v1/conductors", get(conductors::list))
        .route("/v1/conductors/{hostname}", get(conductors::show))
        .route("/v1/shards", get(nodes::shards))
        // ramdisk
        .route("/v1/lookup", get(ramdisk::lookup))
        .route("/v1/heartbeat/{node}", post(ramdisk::heartbeat))
        // Ferric
        .route("/healthz", get(ferric::healthz))
        .route("/metrics", get(ferric::metrics))
        .route("/cluster/status", get(ferric::cluster_status))
        .route("/cluster/members", post(ferric::add_member))
        .route("/cluster/members/{name}", delete(ferric::remove_member))
        .route_layer(axum::middleware::from_fn(pipeline::query_guard))
        .fallback(root::not_found)
        .with_state(app.clone());

    // The pipeline must see (and may rewrite) the path before routing: the API router is the
    // fallback service of an empty outer router that carries the pipeline layer.
    Ok(Router::new().fallback_service(api).layer(from_fn_with_state(app, pipeline::pipeline)))
}
