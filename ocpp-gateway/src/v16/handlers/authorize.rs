//! Authorize: the station asks whether an id tag may charge.

use rust_ocpp::v1_6::messages::authorize::{AuthorizeRequest, AuthorizeResponse};

use super::id_tag_info;
use crate::port::BackendError;
use crate::session::StationContext;

pub(crate) async fn handle(
    ctx: &StationContext,
    req: AuthorizeRequest,
) -> Result<AuthorizeResponse, BackendError> {
    let verdict = ctx.backend.authorize(&ctx.station_id, &req.id_tag).await?;
    Ok(AuthorizeResponse {
        id_tag_info: id_tag_info(&verdict),
    })
}
