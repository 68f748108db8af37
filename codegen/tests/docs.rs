//! The HTML reference emitter: the page of our API (`proto/`), of the library
//! fixture (`tests/protos`), escaping, self-containment and determinism.

mod common;

use common::{Compiled, compile_sources, compile_tree, generate, repo_protos, test_protos};
use dotlanth_codegen::GeneratedFile;
use dotlanth_codegen::emit::docs::PATH;
use dotlanth_codegen::emit::is_generated;
use dotlanth_codegen::registry;
use prost_reflect::DescriptorPool;

fn ok(c: &Compiled) -> Vec<GeneratedFile> {
    generate(c).unwrap_or_else(|e| panic!("{e}"))
}

fn page(files: &[GeneratedFile]) -> String {
    let f = files
        .iter()
        .find(|f| f.path == PATH)
        .unwrap_or_else(|| panic!("{PATH} not generated"));
    String::from_utf8(f.contents.clone()).expect("utf-8")
}

fn api_page() -> String {
    page(&ok(&compile_tree(&repo_protos())))
}

#[track_caller]
fn has(page: &str, needle: &str) {
    assert!(page.contains(needle), "page lacks {needle:?}");
}

#[test]
fn marks_itself_generated_and_is_one_html_document() {
    let files = ok(&compile_tree(&repo_protos()));
    let lib = files.iter().find(|f| f.path == "src/lib.rs").unwrap();
    has(
        std::str::from_utf8(&lib.contents).unwrap(),
        "pub const DOCS_HTML: &str = include_str!(\"../docs/index.html\");",
    );
    let page = page(&files);
    assert!(is_generated(page.as_bytes()));
    let mut lines = page.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("<!--") && first.ends_with("-->"),
        "{first}"
    );
    assert_eq!(lines.next(), Some("<!DOCTYPE html>"));
    assert!(page.ends_with("</html>\n"));
    assert_eq!(page.matches("<style>").count(), 1);
    assert_eq!(page.matches("<script>").count(), 1);
    has(&page, r#"<input id="search""#);
}

#[test]
fn lists_every_method_of_our_api() {
    let c = compile_tree(&repo_protos());
    let pool = DescriptorPool::decode(c.set.as_slice()).unwrap();
    let api = registry::build(&pool, &c.files).unwrap();
    let page = page(&ok(&c));
    assert!(api.methods().count() > 0);
    for (service, method) in api.methods() {
        has(&page, &format!("<code>{}</code>", method.grpc_path));
        has(&page, &format!(r#"id="{}""#, method.full_name));
        has(&page, &format!(r##"href="#{}""##, method.full_name));
        has(&page, &format!(r#"id="{}""#, service.full_name));
    }
    for name in api.messages.keys().chain(api.enums.keys()) {
        if !api.messages.get(name).is_some_and(|m| m.map_entry) {
            has(&page, &format!(r#"id="{name}""#));
        }
    }
}

#[test]
fn shows_bindings_auth_graphql_and_links() {
    let page = api_page();
    let start = page
        .find(r#"<article class="method" id="dotlanth.vm.v1.VmService.ExecuteDot""#)
        .expect("ExecuteDot is documented");
    let execute = &page[start..start + page[start..].find("</article>").unwrap()];
    for needle in [
        "<code>/dotlanth.vm.v1.VmService/ExecuteDot</code>",
        "unary",
        "<code>POST /api/v1/vm/dots/{name}:execute</code> body: <code>*</code>",
        "scopes <code>dots.execute</code>",
        "<b>GraphQL</b>Mutation",
        r##"<b>Request</b><a class="type" href="#dotlanth.vm.v1.ExecuteDotRequest">"##,
        r##"<b>Response</b><a class="type" href="#dotlanth.vm.v1.ExecuteDotResponse">"##,
        // Comments keep their paragraphs (and are escaped: `dot's`).
        "<p class=\"doc\">Errors: `NOT_FOUND`",
        "dot&#39;s code",
    ] {
        has(execute, needle);
    }
    // Anchors by full name, and message fields linking to them.
    has(
        &page,
        r#"<section class="item message" id="dotlanth.vm.v1.Dot""#,
    );
    has(&page, r##"href="#dotlanth.vm.v1.Dot""##);
    let response = &page[page
        .find(r#"id="dotlanth.vm.v1.ExecuteDotResponse""#)
        .unwrap()..];
    let response = &response[..response.find("</section>").unwrap()];
    has(
        response,
        r##"<a class="type" href="#dotlanth.vm.v1.DotEvent"><code>dotlanth.vm.v1.DotEvent</code></a>"##,
    );
    has(response, "<td>repeated</td>");
    has(response, "<td><code>executionId</code></td>");
    let deploy = &page[page
        .find(r#"id="dotlanth.vm.v1.DeployDotResponse""#)
        .unwrap()..];
    has(
        &deploy[..deploy.find("</section>").unwrap()],
        r##"href="#dotlanth.vm.v1.Dot""##,
    );
    // Field JSON names, behaviours, proto3 optional.
    has(
        &page,
        "<td><code>fuel_limit</code></td><td><code>fuelLimit</code></td>",
    );
    has(&page, "<td>optional</td>");
    has(&page, r#"<span class="badge">REQUIRED</span>"#);
    has(&page, r#"<span class="badge">OUTPUT_ONLY</span>"#);
    // `field_rule` patterns.
    has(
        &page,
        r#"<span class="badge">REQUIRED</span><div>matches <code>^[a-z][a-z0-9_-]{0,63}$</code></div>"#,
    );
    // Well-known types used by the API are on the page too.
    has(&page, r#"id="google.protobuf.Timestamp""#);
}

#[test]
fn library_page_shows_maps_oneofs_enums_and_streams() {
    let page = page(&ok(&compile_tree(&test_protos())));
    has(
        &page,
        r##"map&lt;<code>string</code>, <a class="type" href="#example.library.v1.Review">"##,
    );
    has(&page, "<td>oneof format</td>");
    has(&page, "<b>oneof <code>format</code></b>");
    has(&page, r#"<section class="item enum" id="#);
    has(&page, "server streaming");
}

#[test]
fn no_external_assets() {
    for page in [api_page(), page(&ok(&compile_tree(&test_protos())))] {
        for attr in ["src=", "href="] {
            for (i, _) in page.match_indices(attr) {
                let value = &page[i + attr.len()..];
                let value = value.trim_start_matches(['"', '\'']);
                assert!(
                    !value.starts_with("http://")
                        && !value.starts_with("https://")
                        && !value.starts_with("//"),
                    "external {attr}{}",
                    &value[..value.len().min(60)]
                );
            }
        }
        assert!(!page.contains("<link"), "no stylesheets or other links");
        assert!(!page.contains("@import"));
        assert!(!page.contains("url("));
    }
}

const HOSTILE: &str = r#"syntax = "proto3";

// Pets & <b>friends</b>.
package pets.v1;

import "google/api/annotations.proto";
import "dotlanth/api/v1/annotations.proto";

// A service with <script>alert("svc")</script> in its comment.
//
// Second paragraph.
service PetService {
  // Lists pets. <script>alert('rpc')</script>
  rpc ListPets(ListPetsRequest) returns (ListPetsResponse) {
    option (google.api.http) = {get: "/v1/pets"};
    option (dotlanth.api.v1.auth) = {public: true};
  }
  // Needs a token, no scope.
  rpc Feed(Pet) returns (Pet) {
    option deprecated = true;
  }
}

// Input </td></tr><script>x()</script>.
message ListPetsRequest {
  // "quoted" & <i>tagged</i>
  int32 page_size = 1 [json_name = "size<&>"];
}

message ListPetsResponse {
  repeated Pet pets = 1;
}

message Pet {
  string name = 1 [deprecated = true];
  Kind kind = 2;
}

// Kinds <em>of</em> pets.
enum Kind {
  KIND_UNSPECIFIED = 0;
  // Barks & <bites>.
  KIND_DOG = 1;
  KIND_CAT = 7 [deprecated = true];
}
"#;

#[test]
fn escapes_comment_text_and_names() {
    // askama escapes with numeric references: `<` is `&#60;`, `&` is `&#38;`.
    let page = page(&ok(&compile_sources(&[("pets/v1/pets.proto", HOSTILE)])));
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script"
    );
    for needle in [
        "&#60;script&#62;alert(&#34;svc&#34;)&#60;/script&#62; in its comment.</p>",
        "<p class=\"doc\">Second paragraph.</p>",
        "Lists pets. &#60;script&#62;alert(&#39;rpc&#39;)&#60;/script&#62;",
        "Input &#60;/td&#62;&#60;/tr&#62;&#60;script&#62;x()&#60;/script&#62;.",
        "&#34;quoted&#34; &#38; &#60;i&#62;tagged&#60;/i&#62;",
        "<code>size&#60;&#38;&#62;</code>",
        "Kinds &#60;em&#62;of&#60;/em&#62; pets.",
        "<td><code>KIND_DOG</code></td><td>1</td><td>\n<p class=\"doc\">Barks &#38; &#60;bites&#62;.</p>",
        r#"<td><code>KIND_CAT</code><span class="badge deprecated">deprecated</span></td><td>7</td>"#,
        r#"<td><code>name</code><span class="badge deprecated">deprecated</span></td>"#,
        r##"<a class="type" href="#pets.v1.Kind"><code>pets.v1.Kind</code></a>"##,
        "<b>Auth</b>public</li>",
        "<b>Auth</b>any authenticated caller</li>",
        "<code>GET /v1/pets</code></li>",
        r#"<h4><code>Feed</code><span class="badge deprecated">deprecated</span></h4>"#,
    ] {
        has(&page, needle);
    }
    assert!(!page.contains("<b>friends"));
    assert!(!page.contains("<i>tagged"));
    assert!(!page.contains("<bites>"));
}

#[test]
fn deterministic() {
    let a = api_page();
    let b = api_page();
    assert_eq!(a, b);
    // Independent of the order of files in the set: `generate.rs` checks that
    // for every output file, this one included.
    let lib = page(&ok(&compile_tree(&test_protos())));
    assert_eq!(lib, page(&ok(&compile_tree(&test_protos()))));
}
