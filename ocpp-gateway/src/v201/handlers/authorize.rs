//! Authorize: the station asks whether an id token may charge. Certificates (ISO 15118) are not
//! checked here; only the token is, with the same question 1.6 asks.

use rust_ocpp::v2_0_1::messages::authorize::{AuthorizeRequest, AuthorizeResponse};

use super::{check_id_token, id_token_info};
use crate::port::BackendError;
use crate::session::StationContext;
use crate::v201::Pdu;

impl Pdu for AuthorizeRequest {
    fn check(&self) -> Result<(), String> {
        validator::Validate::validate(self).map_err(|e| e.to_string())?;
        check_id_token(&self.id_token)
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: AuthorizeRequest,
) -> Result<AuthorizeResponse, BackendError> {
    let verdict = ctx
        .backend
        .authorize(&ctx.station_id, &req.id_token.id_token)
        .await?;
    Ok(AuthorizeResponse {
        certificate_status: None,
        id_token_info: id_token_info(&verdict),
    })
}
