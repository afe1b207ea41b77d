//! Each sandbox's OpenAPI 3.1 description, served at `GET /openapi.json`: every route it
//! mounts (the emulated API and its own `/__admin` controls), with the statuses its handlers
//! answer. Assembled with utoipa's builders from one table per sandbox (the handlers are
//! many small closures and extractors, so a table is the honest single list). Fault rules
//! set through `/__admin/faults` can make any API route answer any status; the description
//! lists what the routes answer without them.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Required,
    ResponseBuilder, ResponsesBuilder,
};

/// One route: method, path (`{name}` for parameters), what it does, whether it takes a JSON
/// body, and the statuses it answers.
pub(crate) struct Route {
    pub method: HttpMethod,
    pub path: &'static str,
    pub summary: &'static str,
    pub body: bool,
    pub statuses: &'static [u16],
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("answer")
}

/// The description of `routes`.
/// The description's own route, which every sandbox serves.
const OPENAPI_ROUTE: Route = Route {
    method: HttpMethod::Get,
    path: "/openapi.json",
    summary: "This description",
    body: false,
    statuses: &[200],
};

/// A sandbox's description: its own `routes`, then the `/__admin` routes every sandbox
/// shares ([`COMMON_ADMIN`]) and `/openapi.json`.
pub(crate) fn describe(title: &str, description: &str, routes: &[Route]) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for r in routes
        .iter()
        .chain(COMMON_ADMIN)
        .chain(std::iter::once(&OPENAPI_ROUTE))
    {
        let mut op = OperationBuilder::new().summary(Some(r.summary));
        for name in r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            let name = name.trim_start_matches('*');
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(
                        utoipa::openapi::schema::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::String),
                    )),
            );
        }
        if r.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", ContentBuilder::new().build())
                    .build(),
            ));
        }
        let mut responses = ResponsesBuilder::new();
        for s in r.statuses {
            responses = responses.response(
                s.to_string(),
                ResponseBuilder::new().description(reason(*s)),
            );
        }
        op = op.responses(responses.build());
        let path = r.path.replace("{*", "{");
        paths = paths.path(path, PathItem::new(r.method.clone(), op.build()));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description))
                .build(),
        )
        .paths(paths.build())
        .build()
}

/// `doc` as `application/json`.
pub(crate) fn serve(doc: &OpenApi) -> Response {
    match doc.to_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The fault, latency and journal controls both sandboxes mount under `/__admin`.
const COMMON_ADMIN: &[Route] = &[
    Route {
        method: HttpMethod::Get,
        path: "/__admin/faults",
        summary: "The fault rules in force",
        body: false,
        statuses: &[200],
    },
    Route {
        method: HttpMethod::Post,
        path: "/__admin/faults",
        summary: "Add a fault rule",
        body: true,
        statuses: &[204, 400, 415, 422],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/__admin/faults",
        summary: "Clear the fault rules",
        body: false,
        statuses: &[204],
    },
    Route {
        method: HttpMethod::Put,
        path: "/__admin/latency",
        summary: "Set the base latency (`{\"ms\": 20}`)",
        body: true,
        statuses: &[204, 400, 415, 422],
    },
    Route {
        method: HttpMethod::Get,
        path: "/__admin/counts",
        summary: "Requests received, by route",
        body: false,
        statuses: &[200],
    },
    Route {
        method: HttpMethod::Get,
        path: "/__admin/journal",
        summary: "Every request received",
        body: false,
        statuses: &[200],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/__admin/journal",
        summary: "Clear the journal",
        body: false,
        statuses: &[204],
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn each_sandbox_describes_every_route_with_its_methods_and_parameters() {
        let t = serde_json::to_value(crate::theary::openapi()).unwrap();
        assert!(t["openapi"].as_str().unwrap().starts_with("3.1"), "{t}");
        let order = &t["paths"]["/background-check/v1/orders/{id}"];
        assert!(
            order.get("get").is_some() && order.get("delete").is_some(),
            "{order}"
        );
        assert!(t["paths"]["/__admin/journal"].get("delete").is_some());
        assert!(t["paths"]["/__storage/{bucket}/{object}"]
            .get("put")
            .is_some());
        let p = serde_json::to_value(crate::pageup::openapi()).unwrap();
        let put = &p["paths"]["/v3/{tenant}/backgroundcheck/{id}"]["put"];
        assert_eq!(put["parameters"].as_array().unwrap().len(), 2, "{put}");
        assert!(put["responses"].get("404").is_some());
    }
}
