// Calls the local endpoint with the AWS SDK for JavaScript v3, unmodified, and prints what it saw as JSON.
// Usage: node invoke.mjs <endpoint url>
import { SageMakerRuntimeClient, InvokeEndpointCommand } from "@aws-sdk/client-sagemaker-runtime";

const client = new SageMakerRuntimeClient({
  region: "us-east-1",
  endpoint: process.argv[2],
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
});

const out = {};
const ok = await client.send(
  new InvokeEndpointCommand({
    EndpointName: "local-demo",
    ContentType: "text/csv",
    Accept: "text/csv",
    Body: new TextEncoder().encode("1,2,3\n4,5,6\n"),
    CustomAttributes: "trace-instance",
    InferenceId: "js-1",
    TargetVariant: "variant-a",
  }),
);
out.ok = {
  body: new TextDecoder().decode(ok.Body),
  contentType: ok.ContentType,
  variant: ok.InvokedProductionVariant,
  customAttributes: ok.CustomAttributes,
  requestId: ok.$metadata.requestId,
};
for (const [name, params] of [
  ["unknownEndpoint", { EndpointName: "no-such-endpoint", ContentType: "text/csv", Body: "1" }],
  ["modelError", { EndpointName: "local-demo", ContentType: "image/png", Body: "1" }],
]) {
  try {
    await client.send(new InvokeEndpointCommand(params));
    out[name] = { error: null };
  } catch (err) {
    out[name] = {
      error: err.name,
      status: err.$metadata?.httpStatusCode,
      message: err.message,
      originalStatusCode: err.OriginalStatusCode ?? null,
      logStreamArn: err.LogStreamArn ?? null,
    };
  }
}
const wrong = new SageMakerRuntimeClient({
  region: "us-east-1", endpoint: process.argv[2], maxAttempts: 1,
  credentials: { accessKeyId: "test", secretAccessKey: "wrong" },
});
try {
  await wrong.send(new InvokeEndpointCommand({ EndpointName: "local-demo", ContentType: "text/csv", Body: "1" }));
  out.wrongSecret = { error: null };
} catch (err) {
  out.wrongSecret = { error: err.name, status: err.$metadata?.httpStatusCode };
}
console.log(JSON.stringify(out));
