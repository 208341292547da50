//! The SSOT as resources, through a real rmcp client in process: the whole
//! document at `codeb://ssot`, one project per `codeb://ssot/projects/{project}`,
//! both marked untrusted; what does not exist is -32002, a hostile name
//! invalid params, and neither reaches a backend.

mod common;

use common::Harness;
use rmcp::ServiceError;
use rmcp::model::{ErrorCode, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

/// The JSON of the resource at `uri`.
async fn read(h: &Harness, uri: &str) -> Result<Value, rmcp::ErrorData> {
    match h.client.read_resource(ReadResourceRequestParams::new(uri)).await {
        Ok(result) => {
            let [ResourceContents::TextResourceContents { uri: read, mime_type, text, .. }] =
                result.contents.as_slice()
            else {
                panic!("one text content: {result:?}")
            };
            assert_eq!((read.as_str(), mime_type.as_deref()), (uri, Some("application/json")));
            Ok(serde_json::from_str(text).unwrap())
        }
        Err(ServiceError::McpError(e)) => Err(e),
        Err(e) => panic!("{uri}: {e}"),
    }
}

#[tokio::test]
async fn the_ssot_is_a_resource_and_each_project_a_resource_template() {
    let h = Harness::start().await;
    let listed = h.client.list_all_resources().await.unwrap();
    assert_eq!(listed.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(), ["codeb://ssot"]);
    let templates = h.client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "codeb://ssot/projects/{project}");

    const SECRET: &str = "resource-secret-1618-never-shown";
    let secret = json!({ "project": "shop", "env": "staging", "vars": { "API_TOKEN": SECRET }, "secret": true });
    h.ok("env_set", secret).await;
    let dir = h.project("shop", "localhost/shop:v1", "[environments.staging]\ndomains = [\"shop.codeb.test\"]\n");
    h.ok("deploy", json!({ "path": Harness::arg(&dir), "env": "staging" })).await;

    let ssot = read(&h, "codeb://ssot").await.unwrap();
    assert_eq!(ssot["notice"], codeb_mcp::UNTRUSTED_NOTICE, "failure reasons quote the app");
    let staging = &ssot["data"]["projects"]["shop"]["environments"]["staging"];
    assert_eq!(
        (staging["current_release"].as_str(), staging["domains"].clone()),
        (Some("v1"), json!(["shop.codeb.test"]))
    );
    let project = read(&h, "codeb://ssot/projects/shop").await.unwrap();
    assert_eq!(project["data"], ssot["data"]["projects"]["shop"], "the same record as in the document");
    assert_eq!(
        project["data"],
        h.ok("project_show", json!({ "project": "shop" })).await["data"],
        "and as project_show"
    );
    assert!(!ssot.to_string().contains(SECRET) && !project.to_string().contains(SECRET), "no secret value");
}

#[tokio::test]
async fn a_missing_project_or_resource_is_not_found_and_a_hostile_name_invalid_before_any_backend() {
    let h = Harness::start().await;
    let calls = h.backend_calls();
    for uri in ["codeb://ssot/projects/..%2Fetc", "codeb://ssot/projects/shop;id", "codeb://ssot/projects/"] {
        let error = read(&h, uri).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{uri}: {error:?}");
        assert_eq!(error.data.as_ref().unwrap()["error"]["field"], "project", "{error:?}");
    }
    assert_eq!(h.backend_calls(), calls, "a hostile name reaches no backend");
    let error = read(&h, "codeb://ssot/projects/ghost").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::RESOURCE_NOT_FOUND, "{error:?}");
    assert_eq!(error.data.unwrap()["error"]["kind"], "not_found");
    let error = read(&h, "file:///etc/passwd").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::RESOURCE_NOT_FOUND, "{error:?}");
}
