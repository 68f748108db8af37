//! Parser for `google.api.http` path templates.
//!
//! Grammar (from `google/api/http.proto`):
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//! Our decisions where the grammar is silent: a trailing `/` is an error; the spec
//! wants `**` last, but real APIs (Firestore's `{parent=…/documents/*/**}/{collection_id}`)
//! put literals, `*` and variables after it, so a template may hold one `**`
//! anywhere and it matches every segment the fixed-width rest leaves; a variable's sub-template holds no other
//! variable, a field is bound at most once, and partial-segment literals
//! (`ext-{id}`) are errors because the grammar has no such form.
//!
//! `LITERAL` (in segments and the verb) is text that may stand in a URL path as
//! is: RFC 3986 `pchar`s — `ALPHA / DIGIT / "-._~" / "!$&'()+,;" / ":" / "@"` —
//! and `%XX` percent-encodings with two hex digits. `*` is only a wildcard segment
//! on its own and `=` only separates a variable from its sub-template, so neither
//! appears in a literal; `?`, `#`, spaces, non-ASCII text and a bare `%` are
//! rejected.

use std::fmt;

/// A parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    /// The segments after the leading `/`; empty for the template `/`.
    pub segments: Vec<Segment>,
    /// The custom verb without its `:` (`cancel` in `/v1/{name}:cancel`).
    pub verb: Option<String>,
}

/// One segment of a template (or of a variable's sub-template).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Matches exactly this text.
    Literal(String),
    /// `*`: exactly one segment.
    Wildcard,
    /// `**`: zero or more segments; at most one per template.
    DoubleWildcard,
    /// `{field.path=sub/template}`: binds what the sub-template matched to a field.
    Variable(Variable),
}

/// A variable binding part of the path to a (possibly nested) request field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// Field names from the request message down (`["book", "name"]`).
    pub field_path: Vec<String>,
    /// What the variable matches; `{x}` is `{x=*}`. Never contains a variable.
    pub segments: Vec<Segment>,
}

impl Variable {
    /// The dotted field path (`book.name`).
    pub fn field_path_str(&self) -> String {
        self.field_path.join(".")
    }

    /// Whether the sub-template is anything but a single `*`: the variable then
    /// binds path text (possibly several segments, literals included) rather than
    /// one segment.
    pub fn is_multi_segment(&self) -> bool {
        self.segments.len() != 1 || self.segments[0] != Segment::Wildcard
    }

    /// The sub-template as written (`*` for `{x}`).
    pub fn sub_template(&self) -> String {
        let mut out = String::new();
        for (i, sub) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            write_segment(&mut out, sub);
        }
        out
    }
}

/// Why a template does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

impl PathTemplate {
    /// Parses and validates a template string.
    pub fn parse(input: &str) -> Result<Self, TemplateError> {
        let Some(rest) = input.strip_prefix('/') else {
            return err(format!("path template `{input}` must start with `/`"));
        };
        if rest.is_empty() {
            return Ok(PathTemplate {
                segments: Vec::new(),
                verb: None,
            });
        }
        let (body, verb) = split_verb(rest);
        if let Some(v) = &verb {
            if v.is_empty() {
                return err(format!("path template `{input}` has an empty custom verb"));
            }
            if v.contains(['/', '{', '}', '*', '=']) {
                return err(format!(
                    "path template `{input}` has an invalid custom verb `{v}`"
                ));
            }
            check_literal(v, "custom verb", input)?;
        }
        if body.ends_with('/') {
            return err(format!(
                "path template `{input}` ends with `/` (trailing slashes are not allowed)"
            ));
        }
        let mut segments = Vec::new();
        for raw in split_top_level(body, input)? {
            segments.push(parse_segment(raw, input)?);
        }
        let template = PathTemplate { segments, verb };
        template.check(input)?;
        Ok(template)
    }

    fn check(&self, input: &str) -> Result<(), TemplateError> {
        let flat = self.flat_segments();
        // Segments after the one `**` each match exactly one path segment, so
        // `**` takes all the others: matching stays unambiguous.
        if flat
            .iter()
            .filter(|s| matches!(s, Segment::DoubleWildcard))
            .count()
            > 1
        {
            return err(format!(
                "path template `{input}`: at most one `**` (the segments after it \
                 must each match exactly one path segment)"
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for v in self.variables() {
            let path = v.field_path_str();
            if seen.contains(&path) {
                return err(format!(
                    "path template `{input}` binds field `{path}` twice"
                ));
            }
            seen.push(path);
        }
        Ok(())
    }

    /// Segments with variables replaced by their sub-templates.
    pub fn flat_segments(&self) -> Vec<Segment> {
        let mut out = Vec::new();
        for s in &self.segments {
            match s {
                Segment::Variable(v) => out.extend(v.segments.iter().cloned()),
                other => out.push(other.clone()),
            }
        }
        out
    }

    /// The variables, in order.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Variable(v) => Some(v),
            _ => None,
        })
    }

    /// The template with variable names erased: two bindings with the same HTTP
    /// method and the same shape would match the same requests.
    pub fn shape(&self) -> String {
        let mut out = String::new();
        for s in self.flat_segments() {
            out.push('/');
            write_segment(&mut out, &s);
        }
        if out.is_empty() {
            out.push('/');
        }
        if let Some(v) = &self.verb {
            out.push(':');
            out.push_str(v);
        }
        out
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for s in &self.segments {
            out.push('/');
            write_segment(&mut out, s);
        }
        if out.is_empty() {
            out.push('/');
        }
        if let Some(v) = &self.verb {
            out.push(':');
            out.push_str(v);
        }
        f.write_str(&out)
    }
}

fn write_segment(out: &mut String, s: &Segment) {
    match s {
        Segment::Literal(l) => out.push_str(l),
        Segment::Wildcard => out.push('*'),
        Segment::DoubleWildcard => out.push_str("**"),
        Segment::Variable(v) => {
            out.push('{');
            out.push_str(&v.field_path_str());
            if v.is_multi_segment() {
                out.push('=');
                out.push_str(&v.sub_template());
            }
            out.push('}');
        }
    }
}

/// Splits a `:verb` off the last top-level segment.
fn split_verb(rest: &str) -> (&str, Option<String>) {
    let mut depth = 0usize;
    let mut last_slash = None;
    let mut colon = None;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => {
                last_slash = Some(i);
                colon = None;
            }
            ':' if depth == 0 => colon = Some(i),
            _ => {}
        }
    }
    match colon {
        Some(i) if last_slash.is_none_or(|s| i > s) => {
            (&rest[..i], Some(rest[i + 1..].to_string()))
        }
        _ => (rest, None),
    }
}

/// Splits on `/` outside braces, checking that braces balance.
fn split_top_level<'a>(body: &'a str, input: &str) -> Result<Vec<&'a str>, TemplateError> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => {
                depth += 1;
                if depth > 1 {
                    return err(format!("path template `{input}` nests variables"));
                }
            }
            '}' => {
                if depth == 0 {
                    return err(format!("path template `{input}` has an unmatched `}}`"));
                }
                depth -= 1;
            }
            '/' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return err(format!("path template `{input}` has an unclosed `{{`"));
    }
    parts.push(&body[start..]);
    Ok(parts)
}

fn parse_segment(raw: &str, input: &str) -> Result<Segment, TemplateError> {
    if raw.is_empty() {
        return err(format!(
            "path template `{input}` has an empty segment (`//`)"
        ));
    }
    if let Some(inner) = raw.strip_prefix('{') {
        let Some(inner) = inner.strip_suffix('}') else {
            return err(format!(
                "path template `{input}`: segment `{raw}` mixes a variable with literal text"
            ));
        };
        let (path, sub) = match inner.split_once('=') {
            Some((p, s)) => (p, Some(s)),
            None => (inner, None),
        };
        let field_path: Vec<String> = path.split('.').map(str::to_string).collect();
        if field_path.iter().any(|p| !is_ident(p)) {
            return err(format!(
                "path template `{input}`: `{path}` is not a field path"
            ));
        }
        let segments = match sub {
            None => vec![Segment::Wildcard],
            Some("") => {
                return err(format!(
                    "path template `{input}`: variable `{path}` has an empty sub-template"
                ));
            }
            Some(sub) => {
                let mut segs = Vec::new();
                for part in sub.split('/') {
                    match parse_segment(part, input)? {
                        Segment::Variable(_) => {
                            return err(format!("path template `{input}` nests variables"));
                        }
                        s => segs.push(s),
                    }
                }
                segs
            }
        };
        return Ok(Segment::Variable(Variable {
            field_path,
            segments,
        }));
    }
    match raw {
        "*" => Ok(Segment::Wildcard),
        "**" => Ok(Segment::DoubleWildcard),
        _ if raw.contains(['{', '}', '*', '=']) => err(format!(
            "path template `{input}`: segment `{raw}` is neither a literal, `*`, `**` nor a whole `{{variable}}`"
        )),
        _ => {
            check_literal(raw, "segment", input)?;
            Ok(Segment::Literal(raw.to_string()))
        }
    }
}

/// Checks that a literal segment or verb holds only RFC 3986 `pchar`s (see the
/// module documentation). `what` names the element in the error.
fn check_literal(literal: &str, what: &str, input: &str) -> Result<(), TemplateError> {
    let bytes = literal.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return err(format!(
                    "path template `{input}`: {what} `{literal}` has a `%` that does not start \
                     a percent-encoding (`%` and two hex digits)"
                ));
            }
            i += 3;
            continue;
        }
        if !is_pchar(b) {
            let c = literal[i..].chars().next().unwrap_or_default();
            let shown = match c {
                ' ' => "a space".to_string(),
                c if c.is_ascii_graphic() => format!("`{c}`"),
                c => format!("the character U+{:04X}", u32::from(c)),
            };
            return err(format!(
                "path template `{input}`: {what} `{literal}` contains {shown}, which may not \
                 appear in a URL path as is (allowed: letters, digits, `-._~!$&'()+,;:@` and \
                 %XX escapes)"
            ));
        }
        i += 1;
    }
    Ok(())
}

/// RFC 3986 `pchar` without `pct-encoded` (and without `*` and `=`, which are
/// template syntax).
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()+,;:@".contains(&b)
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> PathTemplate {
        PathTemplate::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> String {
        PathTemplate::parse(s).expect_err(s).0
    }

    #[test]
    fn parses_simple_and_variables() {
        let t = ok("/v1/shelves/{shelf}/books/{book.name=shelves/*/books/*}:cancel");
        assert_eq!(t.verb.as_deref(), Some("cancel"));
        assert_eq!(t.segments.len(), 5);
        assert_eq!(t.segments[0], Segment::Literal("v1".into()));
        let vars: Vec<_> = t.variables().map(|v| v.field_path_str()).collect();
        assert_eq!(vars, ["shelf", "book.name"]);
        assert_eq!(
            t.to_string(),
            "/v1/shelves/{shelf}/books/{book.name=shelves/*/books/*}:cancel"
        );
        assert_eq!(t.shape(), "/v1/shelves/*/books/shelves/*/books/*:cancel");
    }

    #[test]
    fn root_and_double_wildcard() {
        assert!(ok("/").segments.is_empty());
        assert_eq!(ok("/").shape(), "/");
        let t = ok("/v1/{name=operations/**}:cancel");
        assert_eq!(t.flat_segments().last(), Some(&Segment::DoubleWildcard));
        assert_eq!(ok("/v1/greetings:count").verb.as_deref(), Some("count"));
    }

    #[test]
    fn colon_in_variable_is_not_a_verb() {
        let t = ok("/v1/{name=a:b/*}");
        assert_eq!(t.verb, None);
    }

    #[test]
    fn rejects_malformed() {
        assert!(bad("v1/x").contains("must start with `/`"));
        assert!(bad("/v1/tasks/").contains("trailing"));
        assert!(bad("/v1//x").contains("empty segment"));
        assert!(bad("/v1/books/ext-{id}").contains("whole `{variable}`"));
        assert!(bad("/v1/{a={b}}").contains("nests"));
        assert!(bad("/v1/{a").contains("unclosed"));
        assert!(bad("/v1/a}").contains("unmatched"));
        assert!(bad("/v1/**/x/**").contains("at most one `**`"));
        assert!(bad("/v1/{a=**}/{b=**}").contains("at most one `**`"));
        // One `**` with fixed-width segments after it is fine.
        assert_eq!(ok("/v1/{a=x/**}/{b}:do").segments.len(), 3);
        assert!(bad("/v1/{a}/{a}").contains("twice"));
        assert!(bad("/v1/{1a}").contains("not a field path"));
        assert!(bad("/v1/x:").contains("empty custom verb"));
        assert!(bad("/v1/{a=}").contains("empty sub-template"));
    }

    #[test]
    fn literals_take_every_pchar_and_percent_encodings() {
        let t = ok("/v1/a-b.c_d~e/!$&'()+,;:@/%2F%c3%A9/{name=x%20y/*}:do-it.v2~%41");
        assert_eq!(t.segments[1], Segment::Literal("a-b.c_d~e".into()));
        assert_eq!(t.segments[2], Segment::Literal("!$&'()+,;:@".into()));
        assert_eq!(t.segments[3], Segment::Literal("%2F%c3%A9".into()));
        assert_eq!(t.verb.as_deref(), Some("do-it.v2~%41"));
        let v = t.variables().next().unwrap();
        assert_eq!(v.segments[0], Segment::Literal("x%20y".into()));
        assert_eq!(v.sub_template(), "x%20y/*");
    }

    #[test]
    fn rejects_characters_outside_pchar() {
        assert!(bad("/v1/a?b").contains("segment `a?b` contains `?`"));
        assert!(bad("/v1/a#b").contains("contains `#`"));
        assert!(bad("/v1/a b").contains("contains a space"));
        assert!(bad("/v1/caf\u{e9}").contains("contains the character U+00E9"));
        assert!(bad("/v1/a\"b").contains("contains `\"`"));
        assert!(bad("/v1/a[0]").contains("contains `[`"));
        assert!(bad("/v1/{name=a?/*}").contains("segment `a?` contains `?`"));
        assert!(bad("/v1/x:do?it").contains("custom verb `do?it` contains `?`"));
        assert!(bad("/v1/x:d\u{f6}").contains("custom verb"));
        // `%` must start a valid %XX.
        assert!(bad("/v1/100%").contains("does not start a percent-encoding"));
        assert!(bad("/v1/%2").contains("does not start a percent-encoding"));
        assert!(bad("/v1/%zz").contains("does not start a percent-encoding"));
        assert!(bad("/v1/x:%g0").contains("custom verb `%g0` has a `%`"));
        // `*` is a segment on its own only; `=` only inside a variable.
        assert!(bad("/v1/a*").contains("neither a literal"));
        assert!(bad("/v1/a=b").contains("neither a literal"));
    }
}
