//! Evidence: upload and download round trip with the SHA-256, chain of custody, the upload cap,
//! and tampering with the stored file making the download fail instead of serving bad bytes.

use sha2::{Digest, Sha256};
use vigil_api::error::ErrorCode;
use vigil_api::types::{AddCustody, AuditQuery, EvidenceUploadQuery};

use crate::incidents::new_incident;
use crate::support::{spawn_app, spawn_app_with};

fn upload(name: &str) -> EvidenceUploadQuery {
    EvidenceUploadQuery {
        file_name: name.to_owned(),
        description: Some("mail headers".to_owned()),
        dry_run: false,
    }
}

/// Every regular file under `dir` whose content is exactly `content`.
pub fn files_with_content(dir: &std::path::Path, content: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).map(|c| c == content).unwrap_or(false) {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn upload_download_round_trip_with_hash_and_custody() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("evidence"))
        .await
        .unwrap();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = hex::encode(Sha256::digest(&content));

    let ev = app
        .responder
        .upload_evidence("INC-1", &upload("headers.eml"), content.clone())
        .await
        .unwrap();
    assert_eq!(ev.sha256.to_string(), expected);
    assert_eq!(ev.size, content.len() as u64);
    assert_eq!(ev.collected_by, "rita");
    assert_eq!(ev.file_name, "headers.eml");
    assert_eq!(ev.description.as_deref(), Some("mail headers"));
    assert_eq!(ev.custody.len(), 1, "a first custody entry: collected");
    assert_eq!(ev.custody[0].actor, "rita");

    let (bytes, sha) = app
        .viewer
        .download_evidence("INC-1", &ev.id.to_string())
        .await
        .unwrap();
    assert_eq!(sha, expected);
    assert_eq!(bytes.as_ref(), content.as_slice());
    // The viewer's download is in the chain of custody, and audited with it.
    let ev = app
        .viewer
        .get_evidence("INC-1", &ev.id.to_string())
        .await
        .unwrap();
    assert_eq!(ev.custody.len(), 2);
    let downloaded = ev.custody.last().unwrap();
    assert_eq!(
        (downloaded.actor.as_str(), downloaded.action.as_str()),
        ("victor", "downloaded")
    );
    let audit = app
        .admin
        .audit(&AuditQuery {
            incident: Some("INC-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let last = audit.items.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("evidence.download", "victor")
    );

    let ev2 = app
        .admin
        .add_custody(
            "INC-1",
            &ev.id.to_string(),
            &AddCustody {
                action: "transferred".into(),
                reason: "to legal".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(ev2.custody.len(), ev.custody.len() + 1);
    assert_eq!(ev2.custody.last().unwrap().actor, "ada");
    let listed = app.viewer.list_evidence("INC-1").await.unwrap();
    assert_eq!(listed.len(), 1);
    let shown = app
        .viewer
        .get_evidence("INC-1", &ev.id.to_string())
        .await
        .unwrap();
    assert_eq!(shown.custody.len(), ev2.custody.len());
}

#[tokio::test]
async fn tampered_evidence_is_never_served() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("evidence"))
        .await
        .unwrap();
    let content = b"original bytes of the evidence, unique 7d1c0a".to_vec();
    let ev = app
        .responder
        .upload_evidence("INC-1", &upload("a.bin"), content.clone())
        .await
        .unwrap();

    let stored = files_with_content(&app.data_dir, &content);
    assert_eq!(stored.len(), 1, "the evidence is stored once as a file");
    let mut tampered = content.clone();
    tampered[0] ^= 0xff;
    // The store files evidence read-only; an intruder with file access changes that first.
    let mut perms = std::fs::metadata(&stored[0]).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&stored[0], perms).unwrap();
    std::fs::write(&stored[0], &tampered).unwrap();

    let err = app
        .viewer
        .download_evidence("INC-1", &ev.id.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::EvidenceCorrupted), "{err:?}");
    // The audit verification re-hashes the files too: it names the evidence, not OK.
    let verification = app.admin.verify_audit().await.unwrap();
    assert!(!verification.ok, "{verification:?}");
    assert!(verification.broken.is_none(), "the chain itself is intact");
    assert_eq!(verification.evidence_files_checked, 1);
    let problems: Vec<(String, uuid::Uuid)> = verification
        .evidence_problems
        .iter()
        .map(|p| (p.incident.to_string(), p.evidence_id))
        .collect();
    assert_eq!(problems, [("INC-1".to_owned(), ev.id)]);
    assert_eq!(
        verification.evidence_problems[0]
            .actual
            .as_ref()
            .map(ToString::to_string),
        Some(hex::encode(Sha256::digest(&tampered)))
    );
}

#[tokio::test]
async fn upload_over_the_cap_is_413_and_keeps_nothing() {
    let app = spawn_app_with(|s| s.evidence_body_limit = 1000).await;
    app.responder
        .create_incident(&new_incident("evidence"))
        .await
        .unwrap();
    let files_before = crate::integrity::all_files(&app.data_dir);
    let content = vec![b'z'; 5000];
    let err = app
        .responder
        .upload_evidence("INC-1", &upload("big.bin"), content)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PayloadTooLarge));
    assert!(app.viewer.list_evidence("INC-1").await.unwrap().is_empty());
    assert_eq!(
        crate::integrity::all_files(&app.data_dir),
        files_before,
        "no partial file is left"
    );

    let err = app
        .viewer
        .upload_evidence("INC-1", &upload("x"), b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));

    // A path as the name, or an unknown incident: refused before the body is stored.
    let err = app
        .responder
        .upload_evidence("INC-1", &upload("../etc/passwd"), b"x".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, vigil_client::ClientError::Api { field: Some(f), .. } if f == "file_name"),
        "{err:?}"
    );
    let err = app
        .responder
        .upload_evidence("INC-9", &upload("a.bin"), b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));
    assert_eq!(
        crate::integrity::all_files(&app.data_dir),
        files_before,
        "nothing was filed"
    );
}

/// A refused upload says why, however large the file: the server answers before reading the
/// body and closes the connection while the file is still going out, which can lose its
/// answer; the client then asks for the verdict without the file (`dry_run`), and a name the
/// server would refuse is refused before anything is sent.
#[tokio::test]
async fn a_refused_upload_says_why_however_large_the_file() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("evidence"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'z'; 32 << 20]).unwrap();
    for _ in 0..3 {
        let err = app
            .viewer
            .upload_evidence_file("INC-1", &upload("big.bin"), &big)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Forbidden), "{err}");
        let err = app
            .responder
            .upload_evidence_file("INC-9", &upload("big.bin"), &big)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::NotFound), "{err}");
    }
    let err = app
        .responder
        .upload_evidence_file("INC-1", &upload("a\tb"), &big)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, vigil_client::ClientError::Invalid(e) if e.field() == Some("file_name")),
        "{err:?}"
    );
    assert!(err.to_string().contains("a tab"), "{err}");
    // The verdict alone: nothing is read or stored.
    app.responder
        .check_evidence_upload("INC-1", &upload("a.bin"))
        .await
        .unwrap();
    let err = app
        .viewer
        .check_evidence_upload("INC-1", &upload("a.bin"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden), "{err}");
    let err = app
        .responder
        .check_evidence_upload("INC-1", &upload("a\tb"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidField), "{err}");
    assert!(app.viewer.list_evidence("INC-1").await.unwrap().is_empty());
}

/// The description is checked like the other multi-line texts: a control character other than
/// a tab or line break is refused, naming the field, and nothing is stored; tabs and line
/// breaks are kept.
#[tokio::test]
async fn a_description_with_a_control_character_is_refused() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("evidence"))
        .await
        .unwrap();
    for description in ["\u{0}", "headers\u{1b}[2J"] {
        let query = EvidenceUploadQuery {
            file_name: "ok.txt".into(),
            description: Some(description.into()),
            dry_run: false,
        };
        let err = app
            .responder
            .upload_evidence("INC-1", &query, b"x".to_vec())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidField), "{err:?}");
        assert!(
            matches!(&err, vigil_client::ClientError::Api { field: Some(f), .. } if f == "description"),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("holds the control character"),
            "{err}"
        );
    }
    assert!(app.viewer.list_evidence("INC-1").await.unwrap().is_empty());
    let query = EvidenceUploadQuery {
        file_name: "ok.txt".into(),
        description: Some("headers\n\tof the mail".into()),
        dry_run: false,
    };
    let ev = app
        .responder
        .upload_evidence("INC-1", &query, b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(ev.description.as_deref(), Some("headers\n\tof the mail"));
}

/// A `HEAD` on the content gives its headers and records nothing: no copy left, so the chain
/// of custody and the audit trail do not say one did. A name beyond ASCII is in
/// `Content-Disposition` as `filename*=UTF-8''…`, with an ASCII fallback.
#[tokio::test]
async fn a_head_on_the_content_is_not_a_download() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("evidence"))
        .await
        .unwrap();
    let ev = app
        .responder
        .upload_evidence("INC-1", &upload("ünï©ødé-名前.txt"), b"hello".to_vec())
        .await
        .unwrap();
    let url = format!(
        "http://{}/api/v1/incidents/INC-1/evidence/{}/content",
        app.addr, ev.id
    );
    let audited = |app: &crate::support::TestApp| {
        let admin = app.admin.clone();
        async move {
            admin
                .audit(&AuditQuery {
                    incident: Some("INC-1".into()),
                    ..Default::default()
                })
                .await
                .unwrap()
                .total
        }
    };
    let before = audited(&app).await;
    let http = reqwest::Client::new();
    let head = http
        .head(&url)
        .bearer_auth(app.viewer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let header = |name: &str| {
        head.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header("content-length").as_deref(), Some("5"));
    assert_eq!(
        header("x-vigil-sha256").as_deref(),
        Some(ev.sha256.as_str())
    );
    assert_eq!(
        header("content-disposition").as_deref(),
        Some(
            "attachment; filename=\"_n___d_-__.txt\"; filename*=UTF-8''%C3%BCn%C3%AF%C2%A9%C3%B8d%C3%A9-%E5%90%8D%E5%89%8D.txt"
        )
    );
    let shown = app
        .viewer
        .get_evidence("INC-1", &ev.id.to_string())
        .await
        .unwrap();
    assert_eq!(shown.custody.len(), 1, "{:?}", shown.custody);
    assert_eq!(audited(&app).await, before);
    // A GET is a download, recorded.
    let get = http
        .get(&url)
        .bearer_auth(app.viewer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.headers()
            .get("content-disposition")
            .map(|v| v.as_bytes().to_vec()),
        head.headers()
            .get("content-disposition")
            .map(|v| v.as_bytes().to_vec())
    );
    assert_eq!(get.bytes().await.unwrap().as_ref(), b"hello");
    let shown = app
        .viewer
        .get_evidence("INC-1", &ev.id.to_string())
        .await
        .unwrap();
    assert_eq!(shown.custody.len(), 2);
}
