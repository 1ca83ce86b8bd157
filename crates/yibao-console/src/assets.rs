//! Static files (stylesheet, the vendored htmx and ECharts builds), embedded in the binary
//! so the console works offline (`debug-embed`: debug builds embed them too, so tests see
//! exactly what ships).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "assets/"]
struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

pub async fn serve(Path(path): Path<String>) -> Response {
    match Assets::get(&path) {
        Some(file) => {
            ([(header::CONTENT_TYPE, content_type(&path)), (header::CACHE_CONTROL, "public, max-age=3600")], file.data.into_owned())
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
