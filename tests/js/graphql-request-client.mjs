// Drives a running Trellis server with a third-party GraphQL client (graphql-request), as a practice's
// or link worker's own system would: standard introspection, a submission retried with the same
// idempotency key, the caseload, and a typed error.
import { GraphQLClient, ClientError, gql } from "graphql-request";
import { getIntrospectionQuery, buildClientSchema } from "graphql";

const [url, gpToken, linkWorkerToken] = process.argv.slice(2);
const gp = new GraphQLClient(url, { headers: { authorization: `Bearer ${gpToken}` } });
const linkWorker = new GraphQLClient(url, { headers: { authorization: `Bearer ${linkWorkerToken}` } });
const fail = (message) => { console.error(message); process.exit(1); };

// The full standard introspection query that tools like GraphiQL and codegen send.
const introspection = await gp.request(getIntrospectionQuery());
const schema = buildClientSchema(introspection);
if (!schema.getMutationType().getFields().submitReferral) fail("submitReferral missing from introspection");

const submit = gql`
  mutation Submit($input: SubmitReferralInput!) {
    submitReferral(input: $input) { replayed referral { id status } }
  }
`;
const input = {
  idempotencyKey: "third-party-1",
  person: { nhsNumber: "9434765919", givenName: "Dennis", familyName: "Walsh", dateOfBirth: "1958-11-02", phone: "07700 900123", preferredContact: "TEXT" },
  needs: ["LOW_MOOD"],
  reason: "Low since his wife went into care.",
  consent: { given: true, recordedBy: "Dr Patel", recordedAt: new Date().toISOString() },
};
const first = await gp.request(submit, { input });
const again = await gp.request(submit, { input });
if (first.submitReferral.referral.id !== again.submitReferral.referral.id || !again.submitReferral.replayed) fail("retry was not idempotent");

const caseload = await linkWorker.request(gql`{ referrals(first: 5) { edges { node { id person { givenName } } } } }`);
if (!caseload.referrals.edges.some((e) => e.node.id === first.submitReferral.referral.id)) fail("referral not on the caseload");

try {
  await gp.request(submit, { input: { ...input, idempotencyKey: "third-party-2", person: { ...input.person, nhsNumber: "9434765918" } } });
  fail("a wrong NHS number was accepted");
} catch (e) {
  if (!(e instanceof ClientError)) throw e;
  const ext = e.response.errors[0].extensions;
  if (ext.code !== "VALIDATION" || ext.field !== "nhsNumber") fail(`unexpected error ${JSON.stringify(ext)}`);
}
console.log(JSON.stringify({ ok: true, referral: first.submitReferral.referral.id }));
