//! Mutations: every change a journey needs. Each state-changing mutation takes `expectedVersion`; a stale
//! one is `CONFLICT`.

use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use trellis_domain::Role;
use trellis_domain::access::KeyManagement;
use trellis_domain::offer::OfferCommand;
use trellis_domain::referral::{ClosureReason, Note, ReferralCommand};
use trellis_domain::values::{self as v, ValueError};
use trellis_store::Store;
use trellis_store::accounts::{NewOrganisation, NewUser};
use trellis_store::offers::OfferRequest;
use trellis_store::referrals::{Consent, IdempotencyKey, NewReferral};

use super::inputs::*;
use super::types::{ApiKey, Offer, Organisation, Referral, User};
use crate::ApiSettings;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// The root of every change.
#[derive(Default)]
pub struct Mutation;

macro_rules! referral_payload {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(SimpleObject)]
        pub struct $name {
            /// The referral after the change.
            pub referral: Referral,
        }
    )+};
}

referral_payload!(
    /// The withdrawn referral.
    WithdrawReferralPayload,
    /// The assigned referral.
    AssignReferralPayload,
    /// The referral with the attempt logged.
    RecordContactAttemptPayload,
    /// The contacted referral.
    RecordContactPayload,
    /// The attending referral.
    RecordAttendancePayload,
    /// The referral back to contacted.
    EndActivityPayload,
    /// The closed referral.
    CloseReferralPayload,
    /// The referral with the details that stand, its flag cleared.
    ResolvePersonDetailsPayload,
);

/// The outcome of a submission.
#[derive(SimpleObject)]
pub struct SubmitReferralPayload {
    /// The referral: new, or the first one when this was a retry.
    pub referral: Referral,
    /// Whether this was a retry of an earlier submission with the same key.
    pub replayed: bool,
    /// Other open referrals for the same NHS number in the caller's scope.
    pub other_open_referral_ids: Vec<ID>,
}

/// The offer made.
#[derive(SimpleObject)]
pub struct OfferReferralPayload {
    /// The new offer.
    pub offer: Offer,
}

/// The answered offer.
#[derive(SimpleObject)]
pub struct RespondToOfferPayload {
    /// The offer after the answer.
    pub offer: Offer,
}

/// The updated offer.
#[derive(SimpleObject)]
pub struct UpdateOfferPayload {
    /// The offer after the update.
    pub offer: Offer,
}

/// The onward offer.
#[derive(SimpleObject)]
pub struct ProposeOnwardOfferPayload {
    /// The new offer (its `partOfId` is the offer it came from).
    pub offer: Offer,
}

/// The new organisation.
#[derive(SimpleObject)]
pub struct CreateOrganisationPayload {
    /// It.
    pub organisation: Organisation,
}

/// The changed organisation.
#[derive(SimpleObject)]
pub struct UpdateOrganisationPayload {
    /// It, as it is now.
    pub organisation: Organisation,
}

/// The new user and their API token.
#[derive(SimpleObject)]
pub struct CreateUserPayload {
    /// The user.
    pub user: User,
    /// Their bearer token. Shown once: only its hash is stored.
    pub api_token: String,
}

/// A new key and its token.
#[derive(SimpleObject)]
pub struct IssueApiKeyPayload {
    /// The key as `apiKeys` lists it.
    pub api_key: ApiKey,
    /// The bearer token. Shown once: only its hash is stored.
    pub api_token: String,
    /// The key this one replaced, now revoked, when a user rotated its own key.
    pub replaced_api_key_id: Option<ID>,
}

/// The disabled user.
#[derive(SimpleObject)]
pub struct DisableUserPayload {
    /// The user, with `disabledAt` set.
    pub user: User,
}

/// The enabled user.
#[derive(SimpleObject)]
pub struct EnableUserPayload {
    /// The user, with `disabledAt` cleared.
    pub user: User,
}

/// The user with its new address.
#[derive(SimpleObject)]
pub struct ChangeUserEmailPayload {
    /// The user.
    pub user: User,
}

/// The revoked key.
#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    /// The key, with its revocation time.
    pub api_key: ApiKey,
}

/// The fingerprint of a submission, taken over what it parses to rather than how it was typed: an NHS
/// number with spaces, a postcode in lower case, a name with a trailing space or needs in another order
/// are the same request as their tidy forms, so a client's retry that formats them differently replays
/// instead of being refused as a different request. The referring organisation is not in it: keys are
/// already kept per organisation.
fn request_hash(new: &NewReferral) -> String {
    let p = &new.person;
    let mut needs: Vec<&str> = new.needs.iter().map(|n| n.as_str()).collect();
    needs.sort_unstable();
    needs.dedup();
    let canonical = serde_json::json!({
        "person": {
            "nhsNumber": p.nhs_number.as_str(),
            "givenName": p.given_name,
            "familyName": p.family_name,
            "dateOfBirth": p.date_of_birth.to_string(),
            "phone": p.phone.as_ref().map(|x| x.as_str()),
            "email": p.email.as_ref().map(|x| x.as_str()),
            "postcode": p.postcode.as_ref().map(|x| x.as_str()),
            "preferredContact": p.preferred_contact.as_str(),
        },
        "needs": needs,
        "reason": new.reason,
        "urgency": new.urgency.as_str(),
        "consent": new.consent.as_ref().map(|c| serde_json::json!({
            "recordedBy": c.recorded_by,
            "recordedAt": c.recorded_at.timestamp_micros(),
        })),
    });
    hex::encode(Sha256::digest(canonical.to_string()))
}

async fn transition(
    ctx: &Context<'_>,
    referral: &ID,
    expected_version: u32,
    command: ReferralCommand,
) -> ApiResult<Referral> {
    let actor = ctx.data::<Caller>()?.actor().api()?;
    let id = referral_id(referral).api()?;
    let record =
        ctx.data::<Store>()?.transition_referral(id, expected_version, command, &actor, Utc::now()).await.api()?;
    Ok(Referral(record))
}

/// When a key issued now stops working.
fn key_expiry(ctx: &Context<'_>, now: chrono::DateTime<Utc>) -> ApiResult<chrono::DateTime<Utc>> {
    let days = ctx.data::<std::sync::Arc<ApiSettings>>()?.api_key_expiry_days;
    Ok(now + Duration::days(days.max(1)))
}

#[Object(name = "JourneyMutation")]
impl Mutation {
    /// Submit a referral (GP practice, or a link worker for a self-referral). Safe to retry with the same
    /// `idempotencyKey`.
    // Parses, then calls the store, whose one domain call decides who may refer, consent, the link
    // worker service and the due date.
    async fn submit_referral(&self, ctx: &Context<'_>, input: SubmitReferralInput) -> ApiResult<SubmitReferralPayload> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let settings = ctx.data::<std::sync::Arc<ApiSettings>>()?;
        let now = Utc::now();
        let key = v::required_text("idempotencyKey", &input.idempotency_key, 200).api()?;
        let person = input.person.parse(now.date_naive()).api()?;
        let needs = v::Need::parse_list(input.needs.iter().map(|n| v::Need::from(*n).as_str())).api()?;
        let reason = v::required_text("reason", &input.reason, 4000).api()?;
        let consent = match input.consent.given {
            true => Some(Consent {
                recorded_by: v::required_text("consent.recordedBy", &input.consent.recorded_by, 200).api()?,
                recorded_at: input.consent.recorded_at,
            }),
            false => None,
        };
        let new = NewReferral { person, needs, reason, urgency: input.urgency.into(), consent };
        let forget_before = now - Duration::days(settings.idempotency_key_days.max(1));
        let key = IdempotencyKey { key, request_hash: request_hash(&new), forget_before };
        let submission = ctx.data::<Store>()?.submit_referral(new, Some(key), &actor, now).await.api()?;
        Ok(SubmitReferralPayload {
            referral: Referral(submission.referral),
            replayed: submission.replayed,
            other_open_referral_ids: submission.other_open_referrals.into_iter().map(|r| ID(r.to_string())).collect(),
        })
    }

    /// Withdraw the practice's own referral while it is still `REFERRED`.
    async fn withdraw_referral(
        &self,
        ctx: &Context<'_>,
        input: WithdrawReferralInput,
    ) -> ApiResult<WithdrawReferralPayload> {
        let command =
            ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: input.note.map(Into::into) };
        Ok(WithdrawReferralPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Assign a referral to a link worker of its service.
    async fn assign_referral(&self, ctx: &Context<'_>, input: AssignReferralInput) -> ApiResult<AssignReferralPayload> {
        let to = user_id("linkWorkerId", &input.link_worker_id).api()?;
        let command = ReferralCommand::Assign { to };
        Ok(AssignReferralPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Log an attempt to reach the person that did not succeed.
    async fn record_contact_attempt(
        &self,
        ctx: &Context<'_>,
        input: RecordContactAttemptInput,
    ) -> ApiResult<RecordContactAttemptPayload> {
        let command = ReferralCommand::RecordContactAttempt { note: Note::given(input.note, input.for_gp).api()? };
        Ok(RecordContactAttemptPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Record the first real conversation with the person.
    async fn record_contact(&self, ctx: &Context<'_>, input: RecordContactInput) -> ApiResult<RecordContactPayload> {
        let command = ReferralCommand::RecordContact { note: Note::given(input.note, input.for_gp).api()? };
        Ok(RecordContactPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Record that the person attends an activity.
    async fn record_attendance(
        &self,
        ctx: &Context<'_>,
        input: RecordAttendanceInput,
    ) -> ApiResult<RecordAttendancePayload> {
        let command =
            ReferralCommand::RecordAttendance { evidence: None, note: Note::given(input.note, input.for_gp).api()? };
        Ok(RecordAttendancePayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Record that the activity ended early and the person needs another connection.
    async fn end_activity(&self, ctx: &Context<'_>, input: EndActivityInput) -> ApiResult<EndActivityPayload> {
        let command = ReferralCommand::EndActivity { note: Note::given(input.note, input.for_gp).api()? };
        let referral = transition(ctx, &input.referral_id, input.expected_version, command).await?;
        Ok(EndActivityPayload { referral })
    }

    /// Close a referral with a reason; the referring practice is told by reference. Every open offer ends
    /// in the same change (withdrawn, or a started one finished or ended early as the reason implies) and
    /// its provider is told the place is no longer needed.
    async fn close_referral(&self, ctx: &Context<'_>, input: CloseReferralInput) -> ApiResult<CloseReferralPayload> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = referral_id(&input.referral_id).api()?;
        let no_follow_up = input.no_follow_up_reason.map(Into::into);
        let record = ctx
            .data::<Store>()?
            .close_referral(
                id,
                input.expected_version,
                input.reason.into(),
                Note::given(input.note, input.for_gp).api()?,
                no_follow_up,
                &actor,
                Utc::now(),
            )
            .await
            .api()?;
        Ok(CloseReferralPayload { referral: Referral(record) })
    }

    /// Choose which person details stand for a referral flagged `details_differ` (the submission's details
    /// differed from those the link worker service already held for the NHS number). Only the referral's
    /// link worker service may; it is an event in the referral's history and clears the flag.
    async fn resolve_person_details(
        &self,
        ctx: &Context<'_>,
        input: ResolvePersonDetailsInput,
    ) -> ApiResult<ResolvePersonDetailsPayload> {
        let command =
            ReferralCommand::ResolvePersonDetails { keep: input.keep.into(), note: input.note.map(Into::into) };
        Ok(ResolvePersonDetailsPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Offer a referral to a service; the provider is emailed a link.
    async fn offer_referral(&self, ctx: &Context<'_>, input: OfferReferralInput) -> ApiResult<OfferReferralPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::LinkWorker], "make offers").api()?;
        let store = ctx.data::<Store>()?;
        let referral = referral_id(&input.referral_id).api()?;
        let service = service_id(&input.service_id).api()?;
        let note = v::optional_text("noteForProvider", input.note_for_provider.as_deref(), 2000).api()?;
        let offer = store
            .make_offer(
                OfferRequest::new(referral, service, store.policy().offer_timers(Utc::now()))
                    .at_version(input.expected_version)
                    .with_note(note),
                &actor,
                Utc::now(),
            )
            .await
            .api()?;
        Ok(OfferReferralPayload { offer: Offer(offer) })
    }

    /// A provider's answer to an offer made to it.
    async fn respond_to_offer(
        &self,
        ctx: &Context<'_>,
        input: RespondToOfferInput,
    ) -> ApiResult<RespondToOfferPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Provider], "answer offers").api()?;
        let id = offer_id(&input.offer_id).api()?;
        let command = match (input.response, input.decline_reason) {
            (OfferResponse::Accept, _) => OfferCommand::Accept,
            (OfferResponse::Waitlist, _) => OfferCommand::Waitlist,
            (OfferResponse::Decline, Some(reason)) => OfferCommand::Decline { reason: reason.into(), note: input.note },
            (OfferResponse::Decline, None) => {
                return Err(
                    ApiError::Validation(ValueError::new("declineReason", "", "is required to decline")).extend()
                );
            }
        };
        let offer = ctx
            .data::<Store>()?
            .transition_offer(id, input.expected_version, command, &actor, Utc::now())
            .await
            .api()?;
        Ok(RespondToOfferPayload { offer: Offer(offer) })
    }

    /// Record an offer's progress (attended, finished, ended early) or withdraw it.
    async fn update_offer(&self, ctx: &Context<'_>, input: UpdateOfferInput) -> ApiResult<UpdateOfferPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::LinkWorker, Role::Provider], "update offers").api()?;
        let id = offer_id(&input.offer_id).api()?;
        let command = match input.update {
            OfferUpdate::Start => OfferCommand::Start,
            OfferUpdate::Finish => OfferCommand::Finish,
            OfferUpdate::EndEarly => OfferCommand::EndEarly { note: input.note },
            OfferUpdate::Withdraw => OfferCommand::Withdraw { note: input.note },
        };
        let offer = ctx
            .data::<Store>()?
            .transition_offer(id, input.expected_version, command, &actor, Utc::now())
            .await
            .api()?;
        Ok(UpdateOfferPayload { offer: Offer(offer) })
    }

    /// A provider that accepted an offer proposes an onward offer to another service in the network.
    async fn propose_onward_offer(
        &self,
        ctx: &Context<'_>,
        input: ProposeOnwardOfferInput,
    ) -> ApiResult<ProposeOnwardOfferPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Provider], "propose onward offers").api()?;
        let store = ctx.data::<Store>()?;
        let from = offer_id(&input.from_offer_id).api()?;
        let service = service_id(&input.service_id).api()?;
        let note = v::optional_text("noteForProvider", input.note_for_provider.as_deref(), 2000).api()?;
        let parent = store.offer(&actor, from).await.api()?;
        let offer = store
            .make_offer(
                OfferRequest::new(parent.state.referral, service, store.policy().offer_timers(Utc::now()))
                    .with_note(note)
                    .onward_from(from),
                &actor,
                Utc::now(),
            )
            .await
            .api()?;
        Ok(ProposeOnwardOfferPayload { offer: Offer(offer) })
    }

    /// Add an organisation (admin; a network lead may add providers, as part of the directory).
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganisationInput,
    ) -> ApiResult<CreateOrganisationPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::NetworkLead, Role::Admin], "manage organisations").api()?;
        let kind: trellis_domain::organisation::OrganisationKind = input.kind.into();
        // docs/domain.md: the admin manages organisations; the network lead manages the directory, whose
        // organisations (Open Referral UK's `organization`) are the providers.
        if actor.role != Role::Admin && kind != trellis_domain::organisation::OrganisationKind::Provider {
            return Err(ApiError::Forbidden(format!("add {} organisations", kind.as_str())).extend());
        }
        let ods_code = input.ods_code.as_deref().map(trellis_domain::organisation::parse_ods_code).transpose().api()?;
        if kind == trellis_domain::organisation::OrganisationKind::GpPractice && ods_code.is_none() {
            return Err(ApiError::Validation(ValueError::new("odsCode", "", "is required for a GP practice")).extend());
        }
        let new = NewOrganisation {
            gp_message_at_first_contact: input.gp_message_at_first_contact,
            mesh_mailbox: input
                .mesh_mailbox_id
                .as_deref()
                .map(trellis_domain::organisation::parse_mesh_mailbox)
                .transpose()
                .api()?,
            kind,
            name: v::required_text("name", &input.name, 200).api()?,
            ods_code,
            email: input.email.as_deref().map(v::EmailAddress::parse).transpose().api()?,
            link_worker_service: input
                .link_worker_service_id
                .as_ref()
                .map(|id| organisation_id("linkWorkerServiceId", id))
                .transpose()
                .api()?,
        };
        let organisation = ctx.data::<Store>()?.create_organisation(new, Utc::now()).await.api()?;
        Ok(CreateOrganisationPayload { organisation: organisation.into() })
    }

    /// Change an organisation's name, email, MESH mailbox id or message back at first contact (admin).
    async fn update_organisation(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganisationInput,
    ) -> ApiResult<UpdateOrganisationPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Admin], "manage organisations").api()?;
        let id = organisation_id("organisationId", &input.organisation_id).api()?;
        let emptied = |v: Option<String>| v.map(|s| Some(s).filter(|s| !s.trim().is_empty()));
        let changes = trellis_store::accounts::OrganisationChanges {
            name: input.name.as_deref().map(|n| v::required_text("name", n, 200)).transpose().api()?,
            email: emptied(input.email)
                .map(|e| e.as_deref().map(v::EmailAddress::parse).transpose())
                .transpose()
                .api()?,
            mesh_mailbox: emptied(input.mesh_mailbox_id)
                .map(|m| m.as_deref().map(trellis_domain::organisation::parse_mesh_mailbox).transpose())
                .transpose()
                .api()?,
            gp_message_at_first_contact: input.gp_message_at_first_contact,
        };
        let organisation = ctx.data::<Store>()?.update_organisation(&actor, id, changes).await.api()?;
        Ok(UpdateOrganisationPayload { organisation: organisation.into() })
    }

    /// Add a user and issue their API token (admin).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> ApiResult<CreateUserPayload> {
        // Only the admin: whoever may mint a GP, link worker or provider token may read what that role
        // reads, and the network lead sees the network, not people (docs/domain.md).
        ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let role: Role = input.role.into();
        if role == Role::System {
            return Err(ApiError::Forbidden(format!("create {} users", role.as_str())).extend());
        }
        let new = NewUser {
            organisation: organisation_id("organisationId", &input.organisation_id).api()?,
            role,
            email: v::EmailAddress::parse(&input.email).api()?,
            name: v::required_text("name", &input.name, 200).api()?,
        };
        let store = ctx.data::<Store>()?;
        let now = Utc::now();
        let expires_at = key_expiry(ctx, now)?;
        let (user, key) = store.create_user_with_key(new, "issued at creation", expires_at, now).await.api()?;
        Ok(CreateUserPayload { user: user.into(), api_token: key.token })
    }

    /// Issue an API key. An admin issues one for any user. A user may issue one only for itself, and
    /// the new key then replaces the key it called with (revoked in the same transaction), so a user
    /// rotates without an admin but a stolen key can never be multiplied. The token is shown once.
    async fn issue_api_key(&self, ctx: &Context<'_>, input: IssueApiKeyInput) -> ApiResult<IssueApiKeyPayload> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        let owner = match &input.user_id {
            Some(id) => user_id("userId", id).api()?,
            None => p.user.id,
        };
        let label = v::required_text("label", &input.label, 100).api()?;
        let replacing = match KeyManagement::of(&p.actor(), owner) {
            KeyManagement::Any => None,
            KeyManagement::Own => Some(p.api_key),
            KeyManagement::None => return Err(ApiError::Forbidden("issue keys for another user".into()).extend()),
        };
        let store = ctx.data::<Store>()?;
        let now = Utc::now();
        let expires_at = key_expiry(ctx, now)?;
        let issued = store.issue_api_key_until(owner, &label, expires_at, replacing, now).await.api()?;
        let api_key = store.api_key(issued.id).await.api()?;
        Ok(IssueApiKeyPayload {
            api_key: api_key.into(),
            api_token: issued.token,
            replaced_api_key_id: replacing.map(|id| ID(id.to_string())),
        })
    }

    /// Disable a user (admin): offboarding. Every key of theirs is refused from now on, by every server
    /// on the database within a second; the keys are kept, so `enableUser` needs no new token. An admin
    /// cannot disable itself (another admin must), so the last one is never locked out by mistake.
    async fn disable_user(&self, ctx: &Context<'_>, input: DisableUserInput) -> ApiResult<DisableUserPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let id = user_id("userId", &input.user_id).api()?;
        if actor.user == Some(id) {
            return Err(ApiError::Validation(ValueError::new(
                "userId",
                id.to_string(),
                "is your own account: another administrator must disable it",
            ))
            .extend());
        }
        let user = ctx.data::<Store>()?.disable_user(id, Utc::now()).await.api()?;
        tracing::info!(user_id = %id, "user disabled");
        Ok(DisableUserPayload { user: user.into() })
    }

    /// Let a disabled user sign in again with its keys that are neither revoked nor expired (admin).
    async fn enable_user(&self, ctx: &Context<'_>, input: EnableUserInput) -> ApiResult<EnableUserPayload> {
        ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let id = user_id("userId", &input.user_id).api()?;
        let user = ctx.data::<Store>()?.enable_user(id).await.api()?;
        tracing::info!(user_id = %id, "user enabled");
        Ok(EnableUserPayload { user: user.into() })
    }

    /// Change the work address a user's console sign-in links go to (admin; audited). Sign-in links
    /// already sent to the old address stop working.
    async fn change_user_email(
        &self,
        ctx: &Context<'_>,
        input: ChangeUserEmailInput,
    ) -> ApiResult<ChangeUserEmailPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let id = user_id("userId", &input.user_id).api()?;
        let email = v::EmailAddress::parse(&input.email).api()?;
        let user = ctx.data::<Store>()?.change_user_email(&actor, id, email, Utc::now()).await.api()?;
        tracing::info!(user_id = %id, "user's email changed");
        Ok(ChangeUserEmailPayload { user: user.into() })
    }

    /// Revoke an API key, by an id from `apiKeys` (an admin any key; anyone their own). Every server on
    /// the database refuses it within a second.
    async fn revoke_api_key(&self, ctx: &Context<'_>, input: RevokeApiKeyInput) -> ApiResult<RevokeApiKeyPayload> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        let id = parse_id::<uuid::Uuid>("apiKeyId", &input.api_key_id).api()?;
        let store = ctx.data::<Store>()?;
        let key = store.api_key(id).await.api()?;
        if KeyManagement::of(&p.actor(), key.user) == KeyManagement::None {
            return Err(ApiError::NotFound.extend());
        }
        let key = store.revoke_api_key(id, Utc::now()).await.api()?;
        Ok(RevokeApiKeyPayload { api_key: key.into() })
    }
}
