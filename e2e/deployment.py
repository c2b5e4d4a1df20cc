"""Applying an example to moto through its test-only root, reading back what
Terraform created, and checking it against the functions' contract."""
import copy
import fnmatch
import json
import os
import shutil
import subprocess
import urllib.parse

import boto3
from botocore.config import Config

import contract

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
E2E = os.path.join(ROOT, "e2e")
ACCOUNT = "123456789012"


class Mismatch(AssertionError):
    """The module and the functions disagree; the message names where."""


def client(moto, service, region):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=moto,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


# --- terraform -------------------------------------------------------------------


class Root:
    """A copy of terraform/ with the example's test-only root files added."""

    def __init__(self, example, work, moto, tf_env, apigateway=None):
        self.example = example
        self.moto = moto
        self.apigateway = apigateway or moto
        self.env = dict(tf_env)
        self.copy = os.path.join(work, example, "terraform")
        shutil.copytree(
            os.path.join(ROOT, "terraform"), self.copy,
            ignore=shutil.ignore_patterns(".terraform", "terraform.tfstate*", ".terraform.lock.hcl"),
        )
        self.dir = os.path.join(self.copy, "examples", example)
        root = os.path.join(E2E, "roots", example)
        # A root that is no example of terraform/examples (published-multi-region)
        # is the whole configuration, in a directory of its own next to them.
        os.makedirs(self.dir, exist_ok=True)
        for name in os.listdir(root):
            shutil.copy(os.path.join(root, name), self.dir)
        # Single-region examples share one provider override; multi-region has its
        # own, and a root with its own providers.tf needs none.
        if not any(os.path.exists(os.path.join(root, f)) for f in ("providers_override.tf", "providers.tf")):
            shutil.copy(os.path.join(E2E, "roots", "providers_override.tf"), self.dir)
        self.env["TF_DATA_DIR"] = os.path.join(work, example, "tf-data")
        self.log = os.path.join(work, example, "terraform.log")

    def run(self, *args):
        with open(self.log, "ab") as log:
            log.write(f"\n$ terraform {' '.join(args)}\n".encode())
            log.flush()
            result = subprocess.run(
                ["terraform", *args, "-no-color"], cwd=self.dir, env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
            )
        if result.returncode != 0:
            with open(self.log, "rb") as f:
                tail = f.read().decode("utf-8", "replace")[-6000:]
            raise AssertionError(f"terraform {args[0]} of examples/{self.example} failed:\n{tail}")

    def vars(self, variables):
        out = ["-var", f"moto_endpoint={self.moto}", "-var", f"apigateway_endpoint={self.apigateway}"]
        for k, v in variables.items():
            out += ["-var", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
        return out

    def init(self):
        self.run("init", "-input=false", "-backend=false")

    def apply(self, variables):
        self.run("apply", "-auto-approve", "-input=false", "-parallelism=20", *self.vars(variables))

    def outputs(self):
        result = subprocess.run(
            ["terraform", "output", "-json"], cwd=self.dir, env=self.env,
            capture_output=True, check=True,
        )
        return {k: v["value"] for k, v in json.loads(result.stdout).items()}

    def destroy(self, variables):
        self.run("destroy", "-auto-approve", "-input=false", "-parallelism=20", *self.vars(variables))


# --- reading back ------------------------------------------------------------------


ROLE_OF_SUFFIX = {"-api": "api", "-authorizer": "authorizer", "-events": "events", "-dlq": "dlq"}


def functions(moto, region):
    """{role: configuration} of the KumoCMS functions in `region`; the role is
    what the module's function name says it is (kumocms-prod-<role>)."""
    lam = client(moto, "lambda", region)
    found = {}
    for page in lam.get_paginator("list_functions").paginate():
        for f in page["Functions"]:
            for suffix, role in ROLE_OF_SUFFIX.items():
                if f["FunctionName"].endswith(suffix):
                    found[role] = lam.get_function_configuration(FunctionName=f["FunctionName"])
    return found


def role_statements(moto, role_arn):
    """Allow statements of an IAM role: inline and attached policies, from moto."""
    iam = client(moto, "iam", "us-east-1")
    name = role_arn.split("/")[-1]
    docs = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        docs.append(json.loads(doc) if isinstance(doc, str) else doc)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        p = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        v = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=p["DefaultVersionId"])
        doc = v["PolicyVersion"]["Document"]
        docs.append(json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc)
    statements = []
    for doc in docs:
        s = doc["Statement"]
        for st in s if isinstance(s, list) else [s]:
            if st.get("Effect") == "Allow":
                statements.append(st)
    return statements


def _as_list(x):
    return x if isinstance(x, list) else [x]


def allows(statements, action, resource):
    for st in statements:
        actions = _as_list(st.get("Action", []))
        resources = _as_list(st.get("Resource", []))
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


def full_secret_arn(moto, region, secret_id):
    """The ARN Secrets Manager gives the secret: IAM evaluates a GetSecretValue
    against it, even when the caller named the secret by a partial ARN."""
    if not secret_id:
        return "?"
    try:
        return client(moto, "secretsmanager", region).describe_secret(SecretId=secret_id)["ARN"]
    except Exception:  # noqa: BLE001 - check_function reports a missing secret
        return secret_id


def check_iam(moto, region, role, config, peers=(), sharing=()):
    """Every action the handler needs, on this deployment's resources."""
    env = config.get("Environment", {}).get("Variables", {})
    values = {
        "bucket": env.get("S3_BUCKET_NAME", "?"),
        "table_arn": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{env.get('DYNAMODB_TABLE_NAME', '?')}",
        # IAM matches the secret's full ARN, whatever form of it SECRETS_ARN has.
        "secret": full_secret_arn(moto, region, env.get("SECRETS_ARN")),
        "region": region,
        "account": ACCOUNT,
        "function": config["FunctionName"],
    }
    if "KUMOCMS_DLQ_URL" in env:
        values["queue_arn"] = f"arn:aws:sqs:{region}:{ACCOUNT}:{env['KUMOCMS_DLQ_URL'].rstrip('/').split('/')[-1]}"
    else:
        # events: the DLQ its role may send to is the function's own DLQ target
        target = config.get("DeadLetterConfig", {}).get("TargetArn")
        values["queue_arn"] = target or "?"
    needed = list(contract.NEEDED_ACTIONS[role]) + list(contract.LOGS)
    if role == "events" and values["queue_arn"] == "?":
        needed = [n for n in needed if not n[0].startswith("sqs:")]
    statements = role_statements(moto, config["Role"])
    missing = []
    for action, pattern in needed:
        resource = pattern.format(**values)
        if not allows(statements, action, resource):
            missing.append(f"{action} on {resource}")
    if role == "api":
        for peer in peers:
            for action, pattern in contract.PEER_READ:
                resource = pattern.format(peer_bucket=peer)
                if not allows(statements, action, resource):
                    missing.append(f"{action} on {resource} (peer region's bucket)")
    if missing:
        raise Mismatch(
            f"IAM: the {role} function's role {config['Role']} does not allow what the {role} handler calls: "
            + "; ".join(missing))
    unused = set.intersection(*(unused_grants(statements, r) for r in set(sharing) | {role}))
    unused = sorted(unused)
    if unused:
        raise Mismatch(
            f"IAM: the {role} function's role {config['Role']} grants actions the {role} handler never calls: "
            + ", ".join(unused))


def unused_grants(statements, role):
    """Actions a role's Allow statements grant that its handler never calls (the
    other direction of the contract): each granted action, wildcards included,
    must name an action of NEEDED_ACTIONS[role] (PEER_READ too for the api) or
    of PLATFORM_ACTIONS."""
    called = {a.lower() for a, _ in contract.NEEDED_ACTIONS[role]}
    if role == "api":
        called |= {a.lower() for a, _ in contract.PEER_READ}
    allowed = called | {a.lower() for a in contract.PLATFORM_ACTIONS}
    unused = set()
    for st in statements:
        for granted in _as_list(st.get("Action", [])):
            g = granted.lower()
            # A wildcard grant ("s3:*") is unused unless every action it covers is
            # needed, which a wildcard never is: refuse it outright.
            if "*" in g or "?" in g or g not in allowed:
                unused.add(granted)
    return unused


def check_function(moto, region, role, config):
    """Handler, runtime and environment names; the resources the environment names exist."""
    problems = []
    if config.get("Runtime") not in contract.RUNTIMES:
        problems.append(f"runtime {config.get('Runtime')!r} is not an OS-only runtime for the bootstrap binary")
    env = config.get("Environment", {}).get("Variables", {})
    for name in contract.NEEDED_ENV[role]:
        if not env.get(name):
            problems.append(f"environment variable {name} (read by the {role} handler) is not set")
    for name in sorted(set(env) - contract.KNOWN_ENV):
        problems.append(f"environment variable {name} is set but no handler reads it")
    if env.get("S3_BUCKET_NAME"):
        try:
            client(moto, "s3", region).head_bucket(Bucket=env["S3_BUCKET_NAME"])
        except Exception as e:  # noqa: BLE001
            problems.append(f"S3_BUCKET_NAME={env['S3_BUCKET_NAME']} names no bucket ({e})")
    if env.get("DYNAMODB_TABLE_NAME"):
        try:
            client(moto, "dynamodb", region).describe_table(TableName=env["DYNAMODB_TABLE_NAME"])
        except Exception as e:  # noqa: BLE001
            problems.append(f"DYNAMODB_TABLE_NAME={env['DYNAMODB_TABLE_NAME']} names no table in {region} ({e})")
    if env.get("SECRETS_ARN"):
        try:
            client(moto, "secretsmanager", region).describe_secret(SecretId=env["SECRETS_ARN"])
        except Exception as e:  # noqa: BLE001
            problems.append(f"SECRETS_ARN={env['SECRETS_ARN']} names no secret ({e})")
    if env.get("KUMOCMS_DLQ_URL"):
        name = env["KUMOCMS_DLQ_URL"].rstrip("/").split("/")[-1]
        try:
            client(moto, "sqs", region).get_queue_url(QueueName=name)
        except Exception as e:  # noqa: BLE001
            problems.append(f"KUMOCMS_DLQ_URL={env['KUMOCMS_DLQ_URL']} names no queue ({e})")
    if problems:
        raise Mismatch(f"Lambda function {config['FunctionName']} ({role}, {region}): " + "; ".join(problems))
    return env


def check_rules(moto, region, fns, bucket):
    """The S3 event rules target the events function with the bucket's events;
    the schedule targets the dlq function."""
    events = client(moto, "events", region)
    rules = events.list_rules()["Rules"]
    problems = []
    wanted = {"Object Created", "Object Restore Completed", "Object Restore Expired"}
    seen = set()
    for rule in rules:
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        arns = {t["Arn"] for t in targets}
        if rule.get("EventPattern"):
            pattern = json.loads(rule["EventPattern"])
            if fns.get("events") and fns["events"]["FunctionArn"] not in arns:
                problems.append(f"rule {rule['Name']} does not target the events function")
            if bucket not in pattern.get("detail", {}).get("bucket", {}).get("name", []):
                problems.append(f"rule {rule['Name']} does not match bucket {bucket}")
            seen |= set(pattern.get("detail-type", []))
        elif rule.get("ScheduleExpression"):
            if fns.get("dlq") and fns["dlq"]["FunctionArn"] not in arns:
                problems.append(f"schedule {rule['Name']} does not target the dlq function")
    if fns.get("events") and not wanted <= seen:
        problems.append(f"no rule delivers {sorted(wanted - seen)} to the events function")
    if problems:
        raise Mismatch(f"EventBridge ({region}): " + "; ".join(problems))


def api_routes(moto, region):
    """{(METHOD, path): authorizationType} of the region's REST API, from moto,
    checking that every method proxies to the api function."""
    apigw = client(moto, "apigateway", region)
    apis = apigw.get_rest_apis()["items"]
    if len(apis) != 1:
        raise Mismatch(f"API Gateway ({region}): expected one REST API, found {[a['name'] for a in apis]}")
    api = apis[0]
    routes = {}
    problems = []
    for resource in apigw.get_resources(restApiId=api["id"], embed=["methods"], limit=500)["items"]:
        for method in resource.get("resourceMethods", {}) or {}:
            m = apigw.get_method(restApiId=api["id"], resourceId=resource["id"], httpMethod=method)
            routes[(method, resource["path"])] = m.get("authorizationType", "NONE")
            integration = m.get("methodIntegration", {})
            uri = integration.get("uri", "")
            if integration.get("type") != "AWS_PROXY" or ":function:" not in uri:
                problems.append(f"{method} {resource['path']} is not an AWS_PROXY integration to a function")
            elif "-api/invocations" not in uri:
                problems.append(f"{method} {resource['path']} does not proxy to the api function ({uri})")
    if problems:
        raise Mismatch(f"API Gateway ({region}): " + "; ".join(problems))
    return api, routes


def module_owned(method, path):
    """A route the module adds itself: the web interface's, or a CORS preflight."""
    return method == "OPTIONS" or path == "/ui" or path.startswith("/ui/")


def check_routes(moto, region, rust_routes, api_env=None):
    api, gateway = api_routes(moto, region)
    env = api_env or {}
    problems = []
    # The module's own routes: /ui without an authorizer when the api function is
    # told the interface is on, an open OPTIONS on every path with CORS origins.
    own = {key: auth for key, auth in gateway.items() if module_owned(*key)}
    gateway = {key: auth for key, auth in gateway.items() if not module_owned(*key)}
    want_ui = contract.WEB_UI_ROUTES if env.get("KUMOCMS_WEB_UI") == "true" else set()
    got_ui = {key for key in own if key[0] != "OPTIONS"}
    if got_ui != want_ui:
        problems.append(f"web interface routes {sorted(got_ui)}, expected {sorted(want_ui)} (KUMOCMS_WEB_UI={env.get('KUMOCMS_WEB_UI')})")
    paths = {path for _, path in gateway} | {path for _, path in got_ui}
    want_preflight = {("OPTIONS", p) for p in paths} if env.get("KUMOCMS_CORS_ALLOWED_ORIGINS") else set()
    got_preflight = {key for key in own if key[0] == "OPTIONS"}
    if got_preflight != want_preflight:
        problems.append(f"OPTIONS preflights on {sorted(p for _, p in got_preflight)}, expected {sorted(p for _, p in want_preflight)}")
    for key, auth in sorted(own.items()):
        if auth != "NONE":
            problems.append(f"{key[0]} {key[1]} must be open (no authorizer), has authorization {auth}")
    rust = {(r["method"], r["path"]): r["auth"] for r in rust_routes if not module_owned(r["method"], r["path"])}
    for key in sorted(set(gateway) - set(rust)):
        problems.append(f"API Gateway has {key[0]} {key[1]} but the Rust router does not serve it")
    for key in sorted(set(rust) - set(gateway)):
        problems.append(f"the Rust router serves {key[0]} {key[1]} but API Gateway has no such method")
    for key in sorted(set(rust) & set(gateway)):
        protected = gateway[key] != "NONE"
        if protected != rust[key]:
            problems.append(
                f"{key[0]} {key[1]}: the Rust router says auth={rust[key]} but API Gateway has authorization {gateway[key]}")
    if problems:
        raise Mismatch(f"route table ({region}, REST API {api['name']}): " + "; ".join(problems))
    return api


def expected_cors_origin(origins):
    """The one Access-Control-Allow-Origin a gateway response can carry
    (terraform/api_gateway.tf, local.gateway_response_allow_origin)."""
    if len(origins) == 1:
        return origins[0]
    return "*" if "*" in origins else origins[0]


def check_web_ui_and_cors(moto, region, rest_api, bucket, api_env):
    """Read back what the web interface and CORS need (issue 15): API Gateway's
    own error answers with the
    CORS headers, and the document bucket's CORS rule (the listed origins and the
    interface's own, PUT allowed, ETag exposed). Returns the bucket's CORS rules."""
    apigw = client(moto, "apigateway", region)
    s3 = client(moto, "s3", region)
    web_ui = api_env.get("KUMOCMS_WEB_UI") == "true"
    origins = [o for o in api_env.get("KUMOCMS_CORS_ALLOWED_ORIGINS", "").split(",") if o]
    problems = []

    responses = {r["responseType"]: r for r in apigw.get_gateway_responses(restApiId=rest_api["id"], limit=500)["items"]}
    header = "gatewayresponse.header.Access-Control-Allow-Origin"
    for kind in sorted(contract.CORS_GATEWAY_RESPONSES):
        params = (responses.get(kind) or {}).get("responseParameters") or {}
        if origins:
            want = f"'{expected_cors_origin(origins)}'"
            if params.get(header) != want:
                problems.append(f"gateway response {kind}: {header} is {params.get(header)!r}, expected {want}")
            if "ETag" not in params.get("gatewayresponse.header.Access-Control-Expose-Headers", ""):
                problems.append(f"gateway response {kind} does not expose ETag")
            if "Authorization" not in params.get("gatewayresponse.header.Access-Control-Allow-Headers", ""):
                problems.append(f"gateway response {kind} does not allow the Authorization header")
        elif header in params:
            problems.append(f"gateway response {kind} carries {header} without CORS origins")

    want_origins = set(origins)
    if web_ui:
        want_origins.add(f"https://{rest_api['id']}.execute-api.{region}.amazonaws.com")
    try:
        rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except s3.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchCORSConfiguration":
            raise
        rules = []
    if want_origins:
        if len(rules) != 1:
            problems.append(f"bucket {bucket}: {len(rules)} CORS rules, expected 1")
        private = "PRIVATE" in (rest_api.get("endpointConfiguration") or {}).get("types", [])
        for rule in rules:
            got = set(rule.get("AllowedOrigins", []))
            if private and web_ui:
                # A PRIVATE API's interface is also reached through the VPC
                # endpoint's own host name, https://<api id>-<vpce id>.execute-api...
                got = {o for o in got if not o.startswith(f"https://{rest_api['id']}-vpce-")}
            if got != want_origins:
                problems.append(f"bucket {bucket} CORS origins {sorted(rule.get('AllowedOrigins', []))}, expected {sorted(want_origins)}")
            if not {"GET", "HEAD", "PUT"} <= set(rule.get("AllowedMethods", [])):
                problems.append(f"bucket {bucket} CORS methods {rule.get('AllowedMethods')}: GET, HEAD and PUT needed")
            if "ETag" not in rule.get("ExposeHeaders", []):
                problems.append(f"bucket {bucket} CORS rule does not expose ETag (multipart completion needs it)")
            if rule.get("AllowedHeaders") != ["*"]:
                problems.append(f"bucket {bucket} CORS allowed headers {rule.get('AllowedHeaders')}, expected ['*']")
    elif rules:
        problems.append(f"bucket {bucket} has CORS rules without CORS origins or the interface: {rules}")
    if problems:
        raise Mismatch(f"web interface and CORS ({region}): " + "; ".join(problems))
    return rules


# --- inventory: what exists, to prove destroy left nothing -----------------------


def inventory(moto, regions):
    items = set()
    iam = client(moto, "iam", "us-east-1")
    for page in iam.get_paginator("list_roles").paginate():
        for r in page["Roles"]:
            if not r["Path"].startswith("/aws-service-role/"):
                items.add(("iam role", r["RoleName"]))
    for p in iam.list_policies(Scope="Local")["Policies"]:
        items.add(("iam policy", p["PolicyName"]))
    for b in client(moto, "s3", "us-east-1").list_buckets().get("Buckets", []):
        items.add(("s3 bucket", b["Name"]))
    for region in regions:
        def add(kind, names):
            for n in names:
                items.add((kind, f"{region}:{n}"))
        add("lambda function", [f["FunctionName"] for f in client(moto, "lambda", region).list_functions()["Functions"]])
        add("dynamodb table", client(moto, "dynamodb", region).list_tables()["TableNames"])
        add("sqs queue", client(moto, "sqs", region).list_queues().get("QueueUrls", []))
        ev = client(moto, "events", region)
        add("eventbridge rule", [r["Name"] for r in ev.list_rules()["Rules"]])
        add("log group", [g["logGroupName"] for g in client(moto, "logs", region).describe_log_groups()["logGroups"]])
        add("rest api", [a["name"] for a in client(moto, "apigateway", region).get_rest_apis()["items"]])
        add("cognito user pool", [p["Name"] for p in client(moto, "cognito-idp", region).list_user_pools(MaxResults=60)["UserPools"]])
        add("secret", [s["Name"] for s in client(moto, "secretsmanager", region).list_secrets()["SecretList"]])
        ec2 = client(moto, "ec2", region)
        add("vpc endpoint", [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]])
        add("security group", [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]])
    return items


def deep(x):
    return copy.deepcopy(x)


def suspend_tls_only_policy(moto, bucket):
    """moto ignores policy Conditions: the module's TLS-only statement (Deny s3:*
    when aws:SecureTransport is false) denies every object request there, even
    over what would be HTTPS in AWS. Check that the statement is what the bucket
    has, take it out for the run, and return a function that puts it back (before
    destroy). Only moto's copy changes; the module is applied as it is."""
    s3 = client(moto, "s3", "us-east-1")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    kept, tls = [], []
    for st in _as_list(policy["Statement"]):
        cond = st.get("Condition", {}).get("Bool", {})
        if st.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport")).lower() == "false":
            tls.append(st)
        else:
            kept.append(st)
    if not tls:
        raise Mismatch(f"bucket {bucket}: the policy read back has no TLS-only Deny statement: {policy}")
    if kept:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(dict(policy, Statement=kept)))
    else:
        s3.delete_bucket_policy(Bucket=bucket)

    def restore():
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return restore
