//! The owner's knowledge pages through HTTP, with the real pipeline behind them: upload → read
//! → ready with passages → found by the playground → deleted everywhere; tenants isolated; bad
//! input turned into clear statuses while the server keeps serving.
use crate::helpers::*;
use std::time::Duration;

fn models_dir() -> String {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh` (it fetches the model files) or set it")
}

async fn upload(app: &TestApp, cookie: &str, csrf: &str, files: Vec<(&str, Vec<u8>)>) -> (reqwest::StatusCode, String) {
    let mut form = reqwest::multipart::Form::new().text("csrf", csrf.to_owned());
    for (name, bytes) in files {
        form = form.part("files", reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()));
    }
    let r = app.http.post(app.url("/app/sources/upload")).header("cookie", cookie).multipart(form).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

async fn statuses(app: &TestApp, cookie: &str) -> Vec<serde_json::Value> {
    app.http.get(app.url("/app/sources/status")).header("cookie", cookie).send().await.unwrap().json::<Vec<serde_json::Value>>().await.unwrap()
}

async fn settled(app: &TestApp, cookie: &str, n: usize) -> Vec<serde_json::Value> {
    wait_until(Duration::from_secs(120), || async {
        let s = statuses(app, cookie).await;
        s.len() == n && s.iter().all(|x| x["status"] == "ready" || x["status"] == "failed")
    })
    .await;
    statuses(app, cookie).await
}

async fn search(app: &TestApp, cookie: &str, q: &str) -> String {
    app.http.get(app.url("/app/search")).query(&[("q", q)]).header("cookie", cookie).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn an_uploaded_file_is_read_indexed_found_and_deleted_everywhere() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(501, "Rosa's Bakery").await;
    let home = || async { app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap() };
    assert!(home().await.contains("Next step: teach your bot"));
    let doc = "# Returns\n\nCakes can be returned within 24 hours if they are unopened. Bring your receipt.\n\n# Opening hours\n\nWe open at 7am every day except Sunday.\n";
    let (status, page) = upload(&app, &cookie, &csrf, vec![("policies.md", doc.as_bytes().to_vec())]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Added policies.md"));
    let s = settled(&app, &cookie, 1).await;
    assert_eq!(s[0]["status"], "ready", "{s:?}");
    assert!(s[0]["chunk_count"].as_i64().unwrap() >= 1);
    // Taught: the home page's next step is trying the bot.
    let h = home().await;
    assert!(h.contains("Next step: try your bot") && !h.contains("teach your bot"), "{h}");

    let found = search(&app, &cookie, "can I bring back a cake?").await;
    assert!(found.contains("returned within 24 hours"), "{found}");
    assert!(found.contains("policies.md") || found.contains("Returns"), "source shown");

    let id = s[0]["id"].as_i64().unwrap();
    // Delete asks first (static/app.js asks before sending a form with data-confirm)…
    let listing = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let form = &listing[listing.find(&format!("action=\"/app/sources/{id}/delete\"")).expect("a Delete button")..];
    let form = &form[..form.find('>').unwrap()];
    assert!(form.contains("data-confirm=\"Delete “policies.md”?"), "{form}");
    let js = app.http.get(app.url("/static/app.js")).send().await.unwrap().text().await.unwrap();
    assert!(js.contains("form.dataset.confirm && !window.confirm(form.dataset.confirm)"), "the page's script asks");
    let r = app.http.post(app.url(&format!("/app/sources/{id}/delete"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    // …and says it is done.
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    let page = app.http.get(app.url(&back)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<p class=\"notice\" role=\"status\">Source deleted. Your bot no longer answers from it.</p>"), "{page}");
    assert!(statuses(&app, &cookie).await.is_empty());
    let after = search(&app, &cookie, "can I bring back a cake?").await;
    assert!(!after.contains("returned within 24 hours"), "deleted passages still found");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn q_and_a_pairs_match_in_the_playground_and_need_the_csrf_token() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(502, "Ben Bikes").await;
    let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", "forged"), ("question", "x"), ("answer", "y")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .http
        .post(app.url("/app/qa"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("question", "What are your opening hours?"), ("answer", "9 to 5, Monday to Friday.")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = search(&app, &cookie, "what are your opening hours").await;
    assert!(page.contains("9 to 5, Monday to Friday."), "{page}");

    // Deleting a pair asks first, then says it is done.
    let listing = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let at = listing.find("action=\"/app/qa/").expect("a Delete button");
    let form = &listing[at..at + listing[at..].find('>').unwrap()];
    assert!(form.contains("data-confirm=\"Delete the answer to “What are your opening hours?”?"), "{form}");
    let action = &form["action=\"".len()..form["action=\"".len()..].find('"').unwrap() + "action=\"".len()];
    let r = app.http.post(app.url(action)).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    let page = app.http.get(app.url(&back)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Question &amp; answer deleted.") || page.contains("Question &#38; answer deleted."), "{page}");
    assert!(!page.contains("9 to 5, Monday to Friday."), "{page}");
    app.stop().await.unwrap();
}

/// Q&A pairs are capped per bot (`knowledge.max_qa_pairs`): one past the cap is refused with
/// the reason and what to do, and nothing is stored.
#[tokio::test]
async fn q_and_a_pairs_past_the_cap_are_refused_in_plain_words() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_MAX_QA_PAIRS", "2");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(7_960_001, "Cara Cakes").await;
    let add = |q: &'static str| {
        let (app, cookie, csrf) = (&app, cookie.clone(), csrf.clone());
        async move {
            let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("question", q), ("answer", "Yes.")]).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    assert_eq!(add("Do you bake vegan cakes?").await.0, 303);
    assert_eq!(add("Do you deliver?").await.0, 303);
    let (status, page) = add("Do you cater weddings?").await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Not added: your knowledge already has 2 questions"), "{page}");
    assert!(page.contains("answers, the most it can hold. Delete some you no longer need"), "{page}");
    assert_eq!(count(app.db(), "select count(*) from qa_pairs").await, 2, "a pair past the cap was stored");
    assert!(!page.contains("cater weddings"), "the refused pair is listed");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn one_tenant_never_sees_anothers_sources_or_passages() {
    models_dir();
    let app = spawn_app().await;
    let (_, a_cookie, a_csrf) = app.signed_in_owner(601, "Alpha").await;
    let (_, b_cookie, b_csrf) = app.signed_in_owner(602, "Beta").await;
    upload(&app, &a_cookie, &a_csrf, vec![("alpha.txt", b"Our secret discount code is CANARY-ALPHA-7731 for loyal customers.".to_vec())]).await;
    upload(&app, &b_cookie, &b_csrf, vec![("beta.txt", b"Our secret discount code is CANARY-BETA-1902 for loyal customers.".to_vec())]).await;
    settled(&app, &a_cookie, 1).await;
    settled(&app, &b_cookie, 1).await;
    for (cookie, mine, theirs) in [(&a_cookie, "CANARY-ALPHA", "CANARY-BETA"), (&b_cookie, "CANARY-BETA", "CANARY-ALPHA")] {
        let found = search(&app, cookie, "what is the secret discount code?").await;
        assert!(found.contains(mine), "own canary missing");
        assert!(!found.contains(theirs), "another tenant's canary in the playground");
        for page in ["/app", "/app/sources"] {
            let html = app.http.get(app.url(page)).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
            assert!(!html.contains(theirs) && !html.contains(if theirs.contains("BETA") { "beta.txt" } else { "alpha.txt" }), "{page} shows the other tenant");
        }
    }
    // Guessing another tenant's source id does nothing.
    let b_id = statuses(&app, &b_cookie).await[0]["id"].as_i64().unwrap();
    let r = app.http.post(app.url(&format!("/app/sources/{b_id}/delete"))).header("cookie", &a_cookie).form(&[("csrf", a_csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(statuses(&app, &b_cookie).await.len(), 1);
    app.stop().await.unwrap();
}

fn zip_bomb_docx() -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("[Content_Types].xml", opts).unwrap();
        zip.write_all(b"<Types/>").unwrap();
        zip.start_file("word/document.xml", opts).unwrap();
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..300 {
            zip.write_all(&chunk).unwrap(); // 300 MB of spaces, a few hundred KB packed
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

#[tokio::test]
async fn bad_input_gets_a_clear_status_and_the_server_keeps_serving() {
    models_dir();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_MAX_FILE_BYTES", "5000000");
        // Six sources: more than the default free plan's five.
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||100|1|10");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(701, "Cleo").await;
    let html = b"<html><head><title>Help</title><script>window.pwned=1; alert('x')</script></head><body><h1>Help</h1><p>We deliver <b>on Fridays</b>.</p><img src=x onerror=alert(1)></body></html>".to_vec();
    let (status, page) = upload(
        &app,
        &cookie,
        &csrf,
        vec![
            ("empty.txt", Vec::new()),
            ("empty.pdf", Vec::new()),
            ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Kids [1 0 R] >> endobj trailer << /Root 1 0 R >>".to_vec()),
            ("bomb.docx", zip_bomb_docx()),
            ("program.pdf", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00".to_vec()),
            ("help.html", html),
            ("huge.txt", vec![b'a'; 6_000_000]),
        ],
    )
    .await;
    assert_eq!(status, 422, "some files were refused at upload");
    assert!(page.contains("“empty.txt” is empty.") && page.contains("“empty.pdf” is empty."), "{page}");
    assert!(page.contains("“huge.txt” is 5.7 MB; the limit is 4.8 MB per file."), "{page}");
    let s = settled(&app, &cookie, 4).await;
    let listing = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap().replace("&#x27;", "'").replace("&#39;", "'");
    assert!(listing.contains("could not be read"), "broken PDF reason: {listing}");
    assert!(listing.contains("unpacks to more than"), "zip bomb reason: {listing}");
    assert!(listing.contains("isn't supported"), "executable reason: {listing}");
    // The HTML page is read as text; its script never reaches any page as markup.
    assert!(s.iter().any(|x| x["status"] == "ready"), "{s:?}");
    assert!(!listing.contains("<script>window.pwned"), "uploaded script echoed as markup");
    let found = search(&app, &cookie, "when do you deliver?").await;
    assert!(found.contains("on Fridays"), "{found}");
    assert!(!found.contains("window.pwned") && !found.contains("onerror=alert"), "script text indexed");

    // URL import of private addresses is refused with a reason; the server answers throughout.
    for url in ["http://127.0.0.1:9/secret", "http://169.254.169.254/latest/meta-data/"] {
        let r = app.http.post(app.url("/app/sources/url")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("url", url)]).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    let s = settled(&app, &cookie, 6).await;
    let refused: Vec<_> = s.iter().filter(|x| x["status"] == "failed" && x["status_reason"].as_str().is_some_and(|r| r.contains("only imports pages from the public internet"))).collect();
    assert_eq!(refused.len(), 2, "{s:#?}");
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    app.stop().await.unwrap();
}

/// Files that could not be read (an unsupported type, a program named like a PDF) take no place
/// among the plan's sources, and get no "Re-read", which could not help them.
#[tokio::test]
async fn failed_uploads_take_no_place_among_the_plans_sources() {
    models_dir();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||100|1|2");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(702, "Finn").await;
    let bad = vec![("program.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00".to_vec()), ("manual.pdf", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00".to_vec())];
    let (status, page) = upload(&app, &cookie, &csrf, bad).await;
    assert_eq!(status, 200, "{page}");
    let s = settled(&app, &cookie, 2).await;
    assert!(s.iter().all(|x| x["status"] == "failed"), "{s:?}");
    let listing = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(listing.contains("You have 0 of the 2 sources of the Free plan."), "{listing}");
    assert!(!listing.contains("/reindex"), "Re-read offered for files that can never be read: {listing}");

    let good = vec![("hours.txt", b"We open at nine every morning.".to_vec()), ("prices.txt", b"A sourdough loaf costs four euros.".to_vec())];
    let (status, page) = upload(&app, &cookie, &csrf, good).await;
    assert_eq!(status, 200, "both fit the plan's 2 sources: {page}");
    let s = settled(&app, &cookie, 4).await;
    assert_eq!(s.iter().filter(|x| x["status"] == "ready").count(), 2, "{s:?}");
    let listing = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(listing.contains("You have 2 of the 2 sources of the Free plan."), "{listing}");
    assert_eq!(listing.matches("/reindex\"").count(), 2, "Re-read is offered for the files that were read: {listing}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sites_are_due_for_recrawl_only_after_their_period() {
    let app = spawn_app().await;
    let (tenant, _, _) = app.signed_in_owner(801, "Dana").await;
    let new = bellhop::storage::sources::NewSource { bot: None, kind: "site", name: "https://example.com/", size_bytes: 0, content: None, max_pages: Some(5), recrawl_hours: Some(24) };
    let id = bellhop::storage::sources::insert(&app.db().pool, tenant, &new).await.unwrap();
    bellhop::storage::sources::set_status(&app.db().pool, tenant, id, "ready", None, None, Some(3)).await.unwrap();
    let now = bellhop::storage::now_ms();
    let due = bellhop::storage::sources::due_for_recrawl(&app.db().pool, now).await.unwrap();
    assert!(due.is_empty(), "just read: not due yet");
    let due = bellhop::storage::sources::due_for_recrawl(&app.db().pool, now + 25 * 3_600_000).await.unwrap();
    assert_eq!(due, vec![(tenant, id)]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_upload_past_the_tenants_storage_limit_is_refused_with_a_reason() {
    models_dir();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_MAX_TENANT_BYTES", "3000");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(901, "Eli").await;
    let (status, page) = upload(&app, &cookie, &csrf, vec![("a.txt", vec![b'a'; 2000]), ("b.txt", vec![b'b'; 2000])]).await;
    assert_eq!(status, 422);
    assert!(page.contains("Added a.txt"), "the first file fits");
    // 2,000 bytes of a 3,000-byte limit are used: the owner reads the limit, what is used and
    // free, and what to do.
    assert!(
        page.contains("“b.txt”: This file is 2 KB, but only 1000 bytes of the 2.9 KB your business can store is free (your sources, for all your bots, take 2 KB). Delete a source you no longer need, then try again."),
        "{page}"
    );
    assert_eq!(statuses(&app, &cookie).await.len(), 1, "the refused file was stored");
    app.stop().await.unwrap();
}

/// A big file that could not be read takes no storage either: a smaller one still fits.
#[tokio::test]
async fn a_failed_upload_takes_no_storage() {
    models_dir();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_MAX_TENANT_BYTES", "3000");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(902, "Ida").await;
    let mut program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00".to_vec();
    program.resize(2000, 0);
    let (status, page) = upload(&app, &cookie, &csrf, vec![("program.exe", program)]).await;
    assert_eq!(status, 200, "{page}");
    let s = settled(&app, &cookie, 1).await;
    assert_eq!(s[0]["status"], "failed", "{s:?}");
    let (status, page) = upload(&app, &cookie, &csrf, vec![("hours.txt", "We open at nine every morning. ".repeat(50).as_bytes()[..1500].to_vec())]).await;
    assert_eq!(status, 200, "the failed file's 2,000 bytes were counted: {page}");
    assert!(page.contains("Added hours.txt"), "{page}");
    settled(&app, &cookie, 2).await;

    // Read again, the big file would take its 2,000 bytes back: refused like a new upload.
    let exe = statuses(&app, &cookie).await.into_iter().find(|x| x["status"] == "failed").unwrap()["id"].as_i64().unwrap();
    let r = app.http.post(app.url(&format!("/app/sources/{exe}/reindex"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("“program.exe” is 2 KB, but only 1.5 KB of the 2.9 KB your business can store is free (your sources, for all your bots, take 1.5 KB). Delete a source you no longer need, then try again."),
        "{page}"
    );
    let s = statuses(&app, &cookie).await;
    assert_eq!(s.iter().find(|x| x["id"] == exe).unwrap()["status"], "failed", "the refused re-read changed the source: {s:?}");
    app.stop().await.unwrap();
}

/// A page that could not be read takes no place; "Re-read" would give it one back, so it is
/// checked against the plan like a new source, and refused with nothing changed when full.
#[tokio::test]
async fn re_reading_a_source_that_takes_no_place_must_fit_the_plan() {
    models_dir();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||100|1|2");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(703, "Gus").await;
    let r = app.http.post(app.url("/app/sources/url")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("url", "http://127.0.0.1:9/menu")]).send().await.unwrap();
    assert_eq!(r.status(), 303, "back to the Knowledge page");
    let s = settled(&app, &cookie, 1).await;
    assert_eq!(s[0]["status"], "failed", "{s:?}");
    let page_id = s[0]["id"].as_i64().unwrap();
    let good = vec![("hours.txt", b"We open at nine every morning.".to_vec()), ("prices.txt", b"A sourdough loaf costs four euros.".to_vec())];
    let (status, page) = upload(&app, &cookie, &csrf, good).await;
    assert_eq!(status, 200, "the failed page takes no place: {page}");
    settled(&app, &cookie, 3).await;

    let r = app.http.post(app.url(&format!("/app/sources/{page_id}/reindex"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 422, "re-read past the plan's sources");
    let page = r.text().await.unwrap();
    assert!(page.contains("“http://127.0.0.1:9/menu” not read again: the Free plan holds 2 sources and you have 2. Delete a source you no longer need, or choose a bigger plan on the Billing page."), "{page}");
    assert!(page.contains("2 of the 2 sources of the Free plan"), "{page}");
    let s = statuses(&app, &cookie).await;
    assert_eq!(s.iter().find(|x| x["id"] == page_id).unwrap()["status"], "failed", "the refused re-read changed the source: {s:?}");

    // With room again, it is read again.
    let hours = s.iter().find(|x| x["id"] != page_id).unwrap()["id"].as_i64().unwrap();
    let r = app.http.post(app.url(&format!("/app/sources/{hours}/delete"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let r = app.http.post(app.url(&format!("/app/sources/{page_id}/reindex"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    app.stop().await.unwrap();
}

/// Walkthrough B: the same web address added twice (here a page that could not be read, then
/// again) made two rows; it is the same source, read again, and the page says so.
#[tokio::test]
async fn the_same_address_added_again_is_read_again_not_added_twice() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(704, "Hal").await;
    let add = || async { app.http.post(app.url("/app/sources/url")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("url", "http://127.0.0.1:9/menu")]).send().await.unwrap() };
    assert_eq!(add().await.status(), 303);
    let s = settled(&app, &cookie, 1).await;
    assert_eq!(s[0]["status"], "failed", "{s:?}");
    let id = s[0]["id"].as_i64().unwrap();

    let r = add().await;
    assert_eq!(r.status(), 303, "back to the Knowledge page");
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    let page = app.http.get(app.url(&back)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("http://127.0.0.1:9/menu was already in your knowledge: it is being read again."), "{page}");
    let s = settled(&app, &cookie, 1).await;
    assert_eq!(s.len(), 1, "a second row for the same address: {s:?}");
    assert_eq!(s[0]["id"], id, "{s:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sources_beyond_the_plans_limit_are_refused_with_a_reason_and_deleting_one_makes_room() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||100|1|3,pro|Pro|900||10000|10|500");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(951, "Fay").await;
    let files = |names: &[&'static str]| names.iter().map(|n| (*n, format!("Notes about {n}.").into_bytes())).collect::<Vec<_>>();
    let (status, page) = upload(&app, &cookie, &csrf, files(&["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"])).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Added a.txt, b.txt, c.txt"), "{page}");
    assert!(page.contains("“d.txt”, “e.txt” not added: the Free plan holds 3 sources and you have 3."), "{page}");
    assert!(page.contains("3 of the 3 sources of the Free plan"), "{page}");
    assert_eq!(statuses(&app, &cookie).await.len(), 3, "refused files were stored");

    let r = app.http.post(app.url("/app/sources/url")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("url", "https://example.com/faq")]).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("https://example.com/faq not added: the Free plan holds 3 sources"));
    assert_eq!(statuses(&app, &cookie).await.len(), 3, "a refused import was stored");

    let id = statuses(&app, &cookie).await[0]["id"].as_i64().unwrap();
    let r = app.http.post(app.url(&format!("/app/sources/{id}/delete"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let (status, page) = upload(&app, &cookie, &csrf, files(&["d.txt"])).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Added d.txt") && page.contains("3 of the 3 sources"), "{page}");
    app.stop().await.unwrap();
}

/// Issue 16, item 18: the playground marked a passage "confident" by a constant of its own while
/// the bot uses `answering.min_similarity_percent`; the two disagreed once the setting changed.
#[tokio::test]
async fn the_playground_marks_passages_confident_by_the_bots_own_threshold() {
    models_dir();
    let doc = "# Returns\n\nCakes can be returned within 24 hours if they are unopened. Bring your receipt.\n";
    for (percent, confident) in [("100", false), ("1", true)] {
        let app = spawn_app_with(|s| {
            s.set("BELLHOP_ANSWERING_MIN_SIMILARITY_PERCENT", percent);
        })
        .await;
        let (_, cookie, csrf) = app.signed_in_owner(503, "Rosa's Bakery").await;
        let (status, page) = upload(&app, &cookie, &csrf, vec![("policies.md", doc.as_bytes().to_vec())]).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(settled(&app, &cookie, 1).await[0]["status"], "ready");
        let found = search(&app, &cookie, "Cakes can be returned within 24 hours if they are unopened.").await;
        assert!(found.contains("returned within 24 hours"), "{found}");
        assert_eq!(found.contains("pill ok"), confident, "threshold {percent}%: {found}");
        assert!(found.contains(&format!("at least {percent}%")), "the page names the bot's threshold: {found}");
        app.stop().await.unwrap();
    }
}

/// "Try a question" showed passages and their match, and said the bot answers only from those
/// above its threshold, which no longer says what the bot does (a line of a price list answers
/// by itself). The page now says what the bot would answer, by the bot's own decision.
#[tokio::test]
async fn the_playground_says_what_the_bot_would_answer() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(504, "Spoke & Chain").await;
    let prices = "Spoke & Chain - Price list 2026\nPuncture repair: $12\nTubeless tyre setup: $30 per wheel\nBrake adjustment: $18 per wheel\nGear adjustment: $20\nWheel truing: $22 per wheel\nBasic service: $49\nFull service: $89\nBike fitting: $60\nBike wash: $10\n";
    let (status, page) = upload(&app, &cookie, &csrf, vec![("prices.txt", prices.as_bytes().to_vec())]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(settled(&app, &cookie, 1).await[0]["status"], "ready");
    let page = search(&app, &cookie, "Do you do tubeless setups?").await;
    assert!(page.contains("Your bot would answer with: “Tubeless tyre setup: $30 per wheel”"), "{page}");
    // The price list is far from the question as a whole, but the line quoted answers: the
    // passage says so, not "too far to answer from" under the quote.
    assert!(page.contains("but the quote above comes from it") && !page.contains("too far to answer from"), "{page}");
    let page = search(&app, &cookie, "Can I bring my dog into the shop?").await;
    assert!(page.contains("Your bot would say it doesn't know and offer a person. No sentence below answers this question closely enough."), "{page}");
    // "Try a question" and "Test chat" each say, in a line, how they differ, and link the other.
    assert!(page.contains("<p class=\"help\" id=\"how-it-differs\">Try a question shows which of your information your bot would use, and why. To talk to your bot as a customer would, use <a href=\"/app/test-chat\">Test chat</a>.</p>"), "{page}");
    let (_, chat) = crate::owner_lifecycle::get(&app, &cookie, "/app/test-chat").await;
    assert!(chat.contains("<p class=\"help\" id=\"how-it-differs\">Test chat talks to your bot as a customer would. To see which of your information it would use for a question, and why, use <a href=\"/app/search\">Try a question</a>.</p>"), "{chat}");
    app.stop().await.unwrap();
}

/// A passage close enough to look in (green), and no sentence of it that answers: the page says
/// what to do. The walkthrough's owner read "close enough to answer from" beside "no sentence
/// answers this well enough", and could not tell what to change.
#[tokio::test]
async fn the_playground_says_what_to_do_when_a_close_passage_has_no_answer() {
    models_dir();
    // Every passage is close enough at this threshold: the price list is green for any question.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_ANSWERING_MIN_SIMILARITY_PERCENT", "1");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(505, "Spoke & Chain").await;
    let prices = "Spoke & Chain - Price list 2026\nPuncture repair: $12\nGear adjustment: $20\nBasic service: $49\n";
    let (status, page) = upload(&app, &cookie, &csrf, vec![("prices.txt", prices.as_bytes().to_vec())]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(settled(&app, &cookie, 1).await[0]["status"], "ready");
    let page = search(&app, &cookie, "do you do repairs on sundays?").await;
    assert!(page.contains("pill ok") && !page.contains("Your bot would answer with"), "{page}");
    assert!(page.contains("Your bot would say it doesn't know and offer a person. The passages in green are about this topic, but no sentence in them answers this question clearly enough. To have your bot answer it, add a Q&amp;A pair for this question, or write the answer as a sentence of its own in your information."), "{page}");
    app.stop().await.unwrap();
}

/// An OpenAI-style embeddings endpoint (`embeddings.url`) that answers every request at once,
/// with vectors made from the texts, except the second full batch of the pipeline (64 texts),
/// which waits for a permit: the read is then half-way, without timing anything.
#[derive(Clone)]
struct HeldEmbeddings {
    full_batches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

async fn held_embeddings() -> (HeldEmbeddings, String) {
    use axum::Json;
    use axum::extract::State;
    async fn embed(State(h): State<HeldEmbeddings>, Json(req): Json<serde_json::Value>) -> Json<serde_json::Value> {
        let texts: Vec<String> = req["input"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        if texts.len() == 64 && h.full_batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            h.permits.acquire().await.unwrap().forget();
        }
        let data: Vec<serde_json::Value> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let v: Vec<f32> = (0..16).map(|d| t.bytes().enumerate().filter(|(j, _)| j % 16 == d).map(|(_, b)| f32::from(b)).sum::<f32>() + 1.0).collect();
                serde_json::json!({ "object": "embedding", "index": i, "embedding": v })
            })
            .collect();
        Json(serde_json::json!({ "object": "list", "data": data, "model": "held", "usage": { "prompt_tokens": 0, "total_tokens": 0 } }))
    }
    let h = HeldEmbeddings { full_batches: Default::default(), permits: std::sync::Arc::new(tokio::sync::Semaphore::new(0)) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/v1/embeddings", axum::routing::post(embed)).with_state(h.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (h, format!("http://{addr}/v1"))
}

/// A big file no longer reads "reading…" for minutes with no sign of progress: while its
/// passages are indexed, the Knowledge page and its live status say how far it is, and the
/// percentage goes once it is read.
#[tokio::test]
async fn a_big_file_shows_how_far_its_reading_is() {
    let (held, url) = held_embeddings().await;
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_EMBEDDINGS_URL", &url);
        s.set("BELLHOP_CHUNK_TOKENS", "128");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(951, "Greta").await;
    let text: String = (1..=900).map(|i| format!("Rule {i}: members collect {i} points for every order of flowers, and the points never expire.\n\n")).collect();
    let (status, page) = upload(&app, &cookie, &csrf, vec![("loyalty.txt", text.into_bytes())]).await;
    assert_eq!(status, 200, "{page}");

    // The first 64 passages are indexed; the next 64 are being embedded.
    wait_until(Duration::from_secs(120), || async { statuses(&app, &cookie).await[0]["progress"].as_i64().is_some_and(|p| p > 0) }).await;
    let s = statuses(&app, &cookie).await;
    assert_eq!(s[0]["status"], "processing", "{s:?}");
    let percent = s[0]["progress"].as_i64().unwrap();
    assert!(percent < 100, "{s:?}");
    let listing = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(listing.contains(&format!("<span class=\"pill wait\">reading… {percent} %</span>")), "{listing}");
    let js = app.http.get(app.url("/static/app.js")).send().await.unwrap().text().await.unwrap();
    assert!(js.contains("`reading… ${s.progress} %`"), "the live status shows it too");

    held.permits.add_permits(1);
    let s = settled(&app, &cookie, 1).await;
    assert_eq!(s[0]["status"], "ready", "{s:?}");
    let chunks = s[0]["chunk_count"].as_i64().unwrap();
    assert!(chunks > 128, "more than two batches: {chunks}");
    assert_eq!(percent, 64 * 100 / chunks, "the first batch, of all the passages");
    assert!(s[0]["progress"].is_null(), "{s:?}");
    app.stop().await.unwrap();
}

/// A big file deleted while it was read ("reading… 12 %", Delete) went on being embedded to its
/// end, minutes of CPU for nothing, before its passages were removed. The read now stops at the
/// next batch: here the second of its many batches, held while the owner deletes.
#[tokio::test]
async fn a_file_deleted_while_it_is_read_stops_being_read() {
    let (held, url) = held_embeddings().await;
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_EMBEDDINGS_URL", &url);
        s.set("BELLHOP_CHUNK_TOKENS", "128");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(952, "Greta").await;
    let text: String = (1..=900).map(|i| format!("Rule {i}: members collect {i} points for every order of flowers, and the points never expire.\n\n")).collect();
    let (status, page) = upload(&app, &cookie, &csrf, vec![("loyalty.txt", text.into_bytes())]).await;
    assert_eq!(status, 200, "{page}");
    wait_until(Duration::from_secs(120), || async { statuses(&app, &cookie).await[0]["progress"].as_i64().is_some_and(|p| p > 0) }).await;
    let id = statuses(&app, &cookie).await[0]["id"].as_i64().unwrap();

    let r = app.http.post(app.url(&format!("/app/sources/{id}/delete"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    held.permits.add_permits(1);
    let ingest_done = || async { count(app.db(), "select count(*) from jobs where kind = 'knowledge.ingest' and state not in ('done', 'dead')").await == 0 };
    wait_until(Duration::from_secs(120), ingest_done).await;
    let batches = held.full_batches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(batches, 2, "the read went on after the delete: {batches} batches of 64 embedded");
    assert!(statuses(&app, &cookie).await.is_empty());
    let left: i64 = count(app.db(), "select count(*) from sources").await;
    assert_eq!(left, 0);
    app.stop().await.unwrap();
}

/// A Q&A pair answers questions that mean the same, not ones that differ in a day or a number:
/// to the embedder "Are you open on Monday?" is nearly "Are you open on Sunday?" (0.92), whose
/// answer would tell the customer the wrong day's hours with the owner's own words.
#[tokio::test]
async fn a_q_and_a_pair_does_not_answer_a_question_about_another_day_or_number() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(503, "Sunny Cakes").await;
    for (q, a) in [("Are you open on Sunday?", "No, we are closed on Sundays."), ("How much is a cake for 12 people?", "A cake for 12 people costs 45 euros.")] {
        let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("question", q), ("answer", a)]).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    let page = search(&app, &cookie, "are you open sundays").await;
    assert!(page.contains("closed on Sundays"), "the same question in other words: {page}");
    let page = search(&app, &cookie, "Are you open on Monday?").await;
    assert!(!page.contains("closed on Sundays"), "{page}");
    let page = search(&app, &cookie, "How much is a cake for 20 people?").await;
    assert!(!page.contains("costs 45 euros"), "{page}");
    app.stop().await.unwrap();
}

/// The walkthrough found that the owner's Q&A pairs matched only near-exact wording: "Are you
/// accepting new patients?" missed the pair "Do you take new patients?" and "Where can I park?"
/// missed "Is there parking?" (cosines 0.85 and 0.69 to the pairs' questions, under the old 0.85).
/// Rewordings now get the pair; a question about another thing in the same words ("a discount
/// for seniors" / "a student discount") still does not (`bellhop eval qa`, BENCHMARKS.md).
#[tokio::test]
async fn a_q_and_a_pair_answers_the_question_in_the_customers_own_words() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(504, "Bright Smile Dental").await;
    for (q, a) in [
        ("Do you take new patients?", "Yes, we are accepting new patients. Call us to book a first visit."),
        ("Is there parking?", "Yes, free parking behind the clinic."),
        ("Do you offer a student discount?", "Students get 10% off with a valid student card."),
    ] {
        let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("question", q), ("answer", a)]).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    for (asked, answer) in [("Are you accepting new patients?", "Call us to book a first visit."), ("Where can I park?", "free parking behind the clinic"), ("Is there a discount for students?", "10% off with a valid student card")] {
        let page = search(&app, &cookie, asked).await;
        assert!(page.contains(answer), "{asked}: {page}");
    }
    for asked in ["Do you have a discount for seniors?", "Do you take walk-ins?"] {
        let page = search(&app, &cookie, asked).await;
        assert!(!page.contains("Matches your Q&amp;A pair"), "{asked}: {page}");
    }
    app.stop().await.unwrap();
}

/// The hair salon's walkthrough: the owner's pair "Do you do wedding hair?" ("Yes, we do bridal
/// hair …", 83%) answered "do you do hair extensions for weddings?" with its yes, and "Do you offer
/// a student discount?" (85%) "do you offer a student discount on extensions?", while the salon's
/// FAQ says "No, we don't offer hair extensions or perms." A pair taken by its meaning does not
/// answer a question whose word it lacks when the sources name that word: they answer it.
#[tokio::test]
async fn a_pair_does_not_answer_a_question_turning_on_a_word_the_sources_name_elsewhere() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(506, "Mane Street Hair").await;
    let faq = "Mane Street Hair - Frequently asked questions\n\nDo you do hair extensions or perms?\nNo, we don't offer hair extensions or perms.\n\nCan I pay by card?\nYes, we take cards and cash, but no cheques.\n";
    let (status, page) = upload(&app, &cookie, &csrf, vec![("faq.txt", faq.as_bytes().to_vec())]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(settled(&app, &cookie, 1).await[0]["status"], "ready");
    for (q, a) in [
        ("Do you offer a student discount?", "Yes, students get 10% off any service Monday to Wednesday with a valid student card."),
        ("How long does a balayage take?", "Allow about 3 hours for a balayage, including toning and a blow-dry."),
        ("Can I book online?", "Yes, you can book online on our website 24/7, or call us on 01632 960 552 during opening hours."),
        ("Do you do wedding hair?", "Yes, we do bridal hair including a trial session. Please get in touch at least 3 months before the wedding."),
    ] {
        let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("question", q), ("answer", a)]).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    let page = search(&app, &cookie, "do you do wedding hair?").await;
    assert!(page.contains("Matches your Q&amp;A pair"), "the pair answers its own question: {page}");
    for asked in ["do you do hair extensions for weddings?", "do you offer a student discount on extensions?"] {
        let page = search(&app, &cookie, asked).await;
        assert!(!page.contains("Matches your Q&amp;A pair"), "{asked}: {page}");
        assert!(page.contains("— your question asks about “extensions”, which your information speaks of elsewhere, so your bot answers from your information instead."), "{asked}: {page}");
    }
    app.stop().await.unwrap();
}

/// The re-check walkthrough's pairs: "What's your email address?" and "What's your address?"
/// got the phone pair's "555-0142" — they share no content word with it, and were taken at the
/// lower bar meant for the same words at heart.
#[tokio::test]
async fn a_question_sharing_no_word_with_a_pair_is_not_taken_at_the_lower_bar() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(505, "Spoke & Chain").await;
    for (q, a) in [("Where are you located?", "14 Mill Street"), ("What's your phone number?", "555-0142")] {
        let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("question", q), ("answer", a)]).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    for asked in ["What's your email address?", "What's your address?"] {
        let page = search(&app, &cookie, asked).await;
        assert!(!page.contains("555-0142"), "{asked}: {page}");
    }
    let page = search(&app, &cookie, "whats ur phone number").await;
    assert!(page.contains("555-0142"), "{page}");
    app.stop().await.unwrap();
}

/// The dog grooming walkthrough: "what if I miss my appointment" got the pair "What should I do
/// before the appointment?" and its answer about walking the dog (the salon charges 50 % for a
/// missed one). The customer's "miss" is in neither the pair's question nor its answer, so the
/// shared "appointment" no longer takes it at a lower bar; a question in the words of a pair's
/// answer is taken ("one on one session with a teacher" → the private lesson pair).
#[tokio::test]
async fn a_question_turning_on_a_word_the_pair_lacks_does_not_get_the_pair() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(506, "Fluffy Paws").await;
    for (q, a) in [
        ("What should I do before the appointment?", "Please walk your dog before drop-off so they can do their business, and don't feed a big meal in the two hours before."),
        ("Can I book a private lesson?", "Yes! Private one-to-one sessions with any of our teachers cost $70 for 60 minutes. Send us a message with a few times that suit you and we'll arrange it."),
    ] {
        let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("question", q), ("answer", a)]).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    for asked in ["what if I miss my appointment", "Can I stay with my dog during the appointment?"] {
        let page = search(&app, &cookie, asked).await;
        assert!(!page.contains("walk your dog before drop-off"), "{asked}: {page}");
    }
    let page = search(&app, &cookie, "anything I need to do before my appointment?").await;
    assert!(page.contains("walk your dog before drop-off"), "{page}");
    let page = search(&app, &cookie, "could I get a one on one session with a teacher?").await;
    assert!(page.contains("cost $70 for 60 minutes"), "{page}");
    app.stop().await.unwrap();
}

/// Two files of one name in one upload: the later is the newer version, kept as the one source.
#[tokio::test]
async fn two_files_of_one_name_in_one_upload_keep_the_later() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(7_960_101, "Rosa's Roses").await;
    let (status, page) = upload(&app, &cookie, &csrf, vec![("prices.txt", b"12 red roses: 45 dollars.".to_vec()), ("prices.txt", b"12 red roses: 50 dollars.".to_vec())]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<p class=\"notice\" role=\"status\">Added prices.txt. Reading now"), "{page}");
    let content: Vec<Vec<u8>> = sqlx::query_scalar("select content from sources").fetch_all(&app.db().pool).await.unwrap();
    assert_eq!(content, vec![b"12 red roses: 50 dollars.".to_vec()]);
    app.stop().await.unwrap();
}

/// The walkthrough found that the same question added twice kept both pairs (only the newer was
/// ever used), and a pair could not be edited. The same question again — whatever its case,
/// spacing or question mark — updates the pair's answer, saying so; Edit rewrites a pair, only
/// the owner's own, and the bot matches the edited question from then on.
#[tokio::test]
async fn the_same_question_again_updates_its_answer_and_a_pair_can_be_edited() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(7_960_102, "Rosa's Roses").await;
    let (_, other_cookie, other_csrf) = app.signed_in_owner(7_960_103, "Otto's Orchids").await;
    let post = |path: String, cookie: String, form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let r = app.http.post(app.url(&path)).header("cookie", &cookie).form(&form).send().await.unwrap();
            let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
            (r.status().as_u16(), location, r.text().await.unwrap())
        }
    };
    let listing = |location: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move { app.http.get(app.url(&location)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap() }
    };
    let add = |q: &str, a: &str| post("/app/qa".into(), cookie.clone(), vec![("csrf", csrf.clone()), ("question", q.into()), ("answer", a.into())]);
    let pairs = || async { sqlx::query_as::<_, (i64, String, String)>("select id, question, answer from qa_pairs order by id").fetch_all(&app.db().pool).await.unwrap() };

    let (status, location, _) = add("Do you do wedding flowers?", "No, sorry.").await;
    assert_eq!(status, 303);
    let page = listing(location.unwrap()).await;
    assert!(page.contains("<p class=\"notice\" role=\"status\">Added the answer to “Do you do wedding flowers?”.</p>"), "{page}");
    let (status, location, _) = add("  do you do   WEDDING flowers ", "Yes, from 200 dollars.").await;
    assert_eq!(status, 303);
    let page = listing(location.unwrap()).await;
    assert!(page.contains("<p class=\"notice\" role=\"status\">Updated the answer to “Do you do wedding flowers?”.</p>"), "{page}");
    let now = pairs().await;
    assert_eq!(now.len(), 1, "the same question twice: {now:?}");
    assert_eq!((now[0].1.as_str(), now[0].2.as_str()), ("Do you do wedding flowers?", "Yes, from 200 dollars."));
    let id = now[0].0;

    // Edit: a form with the pair's question and answer, sent with the CSRF token.
    assert!(page.contains(&format!("action=\"/app/qa/{id}\"")) && page.contains("value=\"Do you do wedding flowers?\""), "no Edit form: {page}");
    let edit = |cookie: String, csrf: String, q: &str, a: &str| post(format!("/app/qa/{id}"), cookie, vec![("csrf", csrf), ("question", q.into()), ("answer", a.into())]);
    assert_eq!(edit(cookie.clone(), "forged".into(), "Hacked?", "Hacked.").await.0, 403);
    // Another business cannot edit it, even knowing its id.
    assert_eq!(edit(other_cookie.clone(), other_csrf.clone(), "Hacked?", "Hacked.").await.0, 404);
    assert_eq!(pairs().await, now, "changed by a forged or another business's form");
    let (status, location, _) = edit(cookie.clone(), csrf.clone(), "Do you deliver wedding flowers?", "Yes, anywhere in town.").await;
    assert_eq!(status, 303);
    let page = listing(location.unwrap()).await;
    assert!(page.contains("Updated the answer to “Do you deliver wedding flowers?”."), "{page}");
    assert_eq!(pairs().await, vec![(id, "Do you deliver wedding flowers?".to_owned(), "Yes, anywhere in town.".to_owned())]);
    let found = search(&app, &cookie, "Do you deliver wedding flowers").await;
    assert!(found.contains("anywhere in town"), "the edited question is not matched: {found}");

    // Edited into another pair's question: refused, in plain words, and nothing changes.
    assert_eq!(add("Are you open on Sunday?", "No.").await.0, 303);
    let sunday = pairs().await[1].0;
    let before = pairs().await;
    let (status, _, page) = post(format!("/app/qa/{sunday}"), cookie.clone(), vec![("csrf", csrf.clone()), ("question", "do you deliver wedding flowers".into()), ("answer", "Maybe.".into())]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Not changed: you already have an answer to “Do you deliver wedding flowers?”."), "{page}");
    assert_eq!(pairs().await, before);
    app.stop().await.unwrap();
}

/// After "Import" and "Re-read" the browser went on showing the POST's address (a refresh sent
/// the form again), and Re-read said nothing. Both go back to the page, which says what happens.
#[tokio::test]
async fn import_and_re_read_go_back_to_the_page_which_says_what_happens() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(7_960_104, "Rosa's Roses").await;
    let follow = |r: reqwest::Response| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            assert_eq!(r.status(), 303, "not sent back to the page");
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with("/app/sources"), "{location}");
            app.http.get(app.url(&location)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap()
        }
    };
    let (status, page) = upload(&app, &cookie, &csrf, vec![("hours.txt", b"We open at nine every morning.".to_vec())]).await;
    assert_eq!(status, 200, "{page}");
    let s = settled(&app, &cookie, 1).await;
    assert_eq!(s[0]["status"], "ready", "{s:?}");
    let hours = s[0]["id"].as_i64().unwrap();
    let r = app.http.post(app.url(&format!("/app/sources/{hours}/reindex"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    let page = follow(r).await;
    assert!(
        page.contains("<p class=\"notice\" role=\"status\">Reading “hours.txt” again; your bot keeps answering from the earlier version until it is done.</p>"),
        "{page}"
    );

    let r = app.http.post(app.url("/app/sources/url")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("url", "https://example.com/faq")]).send().await.unwrap();
    let page = follow(r).await;
    assert!(page.contains("<p class=\"notice\" role=\"status\">Importing https://example.com/faq. This page updates by itself.</p>"), "{page}");
    app.stop().await.unwrap();
}

/// A file is listed by the title customers see it cited by, its file name small under it, as
/// a web page is listed by its title above its address.
#[tokio::test]
async fn a_file_is_listed_by_its_title_with_its_file_name_under_it() {
    models_dir();
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(7_960_201, "QuickFix Auto").await;
    let fixture = |name: &str| std::fs::read(format!("{}/tests/fixtures/knowledge/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let files = vec![("warranty-and-loan-cars.txt", fixture("warranty-and-loan-cars.txt")), ("services-prices.csv", fixture("services-prices.csv"))];
    let (status, page) = upload(&app, &cookie, &csrf, files).await;
    assert_eq!(status, 200, "{page}");
    let s = settled(&app, &cookie, 2).await;
    assert!(s.iter().all(|x| x["status"] == "ready"), "{s:?}");
    let page = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    for (title, name) in [("Our warranty and courtesy car policy", "warranty-and-loan-cars.txt"), ("Services prices", "services-prices.csv")] {
        assert!(page.contains(&format!("<b>{title}</b><br><span class=\"help address\">{name}</span>")), "{title}: {page}");
    }
    app.stop().await.unwrap();
}

/// Try a question showed nothing of a Q&A pair that came close but was not used, so the owner
/// could not tell that rewording it would help. The nearest pair within reach is shown with its
/// match and the rule's own reason; none when a pair is used, or when none comes near. It asks
/// the owner to add the words a pair lacks only when the pair has more of the question's words
/// than it lacks, or as many and it is close (the florist walkthrough was told to add "deliver"
/// and "france" to its corporate events pair, "what if I miss my appointment" to add "miss" to
/// the pair about getting the dog ready), and never a name ("Polish").
#[tokio::test]
async fn try_a_question_shows_a_pair_that_came_close_and_why_it_was_not_used() {
    models_dir();
    let app = spawn_app().await;
    let near = |page: &str| page.split("<p class=\"help\" id=\"qa-near\">").nth(1).and_then(|p| p.split("</p>").next()).unwrap_or_else(|| panic!("no near pair shown: {page}")).to_owned();
    let percent = |near: &str| -> u32 { near.split("(match ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap() };
    let (_, cookie, csrf) = app.signed_in_owner(507, "Fluffy Paws").await;
    let (_, florist, florist_csrf) = app.signed_in_owner(508, "Petal & Stem").await;
    let (_, school, school_csrf) = app.signed_in_owner(509, "Clear Road Driving School").await;
    for (cookie, csrf, q, a) in [
        (&cookie, &csrf, "What should I do before the appointment?", "Please walk your dog before drop-off so they can do their business, and don't feed a big meal in the two hours before."),
        (&florist, &florist_csrf, "Can I add a personal message card?", "Yes, every order comes with a free message card. Write your message in the notes when you order and we'll handwrite it for you."),
        (&florist, &florist_csrf, "Do you do flowers for corporate events?", "Yes, we make arrangements for offices, hotels and events. Contact us at least two weeks ahead for a quote."),
        (&school, &school_csrf, "I already passed my test abroad. Can you help me?", "Yes, we offer refresher lessons for drivers with a foreign licence who need to take the UK test. Ask for a free assessment drive of 30 minutes."),
        (&school, &school_csrf, "Can I use my own car for lessons?", "No, all lessons are in our own dual-controlled cars. You can practise in your own car with a qualified friend or family member between lessons, if you are insured."),
    ] {
        let r = app.http.post(app.url("/app/qa")).header("cookie", cookie).form(&[("csrf", csrf.as_str()), ("question", q), ("answer", a)]).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    // A pair with more of the question's words than it lacks: add them.
    let n = near(&search(&app, &florist, "I'd like flowers for our office reception every week").await);
    assert!(n.starts_with("Not used: your Q&#38;A pair “Do you do flowers for corporate events?” (match "), "{n}");
    assert!(n.ends_with("%) — close, but your question has words it lacks: “reception”, “every”. If the pair answers this too, add them to its question or answer."), "{n}");
    assert!((60..80).contains(&percent(&n)), "{n}");
    let n = near(&search(&app, &school, "can I bring my own car?").await);
    assert!(n.starts_with("Not used: your Q&#38;A pair “Can I use my own car for lessons?” (match "), "{n}");
    assert!(n.ends_with("%) — close, but your question has a word it lacks: “bring”. If the pair answers this too, add it to its question or answer."), "{n}");
    assert!((65..80).contains(&percent(&n)), "{n}");
    // A pair with as many or fewer: no pair is about this.
    for asked in ["can you deliver flowers to France?", "can I send flowers to my mum in Spain?"] {
        let n = near(&search(&app, &florist, asked).await);
        assert!(n.starts_with("No Q&#38;A pair is about this. The nearest, “Do you do flowers for corporate events?” (match "), "{asked}: {n}");
        assert!(n.ends_with("%), has only “flowers” in common with your question. To have your bot answer it, add a Q&#38;A pair for this question."), "{asked}: {n}");
        assert!((50..60).contains(&percent(&n)), "{asked}: {n}");
    }
    let n = near(&search(&app, &cookie, "what if I miss my appointment").await);
    assert!(n.starts_with("No Q&#38;A pair is about this. The nearest, “What should I do before the appointment?” (match "), "{n}");
    assert!(n.ends_with("%), has only “appointment” in common with your question. To have your bot answer it, add a Q&#38;A pair for this question."), "{n}");
    // The only word the pair lacks is a name.
    let n = near(&search(&app, &school, "I have a Polish driving licence, can you help?").await);
    assert!(n.starts_with("Not used: your Q&#38;A pair “I already passed my test abroad. Can you help me?” (match "), "{n}");
    assert!(n.ends_with("%) — close, but not close enough in meaning."), "{n}");
    // Used: no near pair. Far from it: none either.
    let page = search(&app, &cookie, "anything I need to do before my appointment?").await;
    assert!(page.contains("walk your dog before drop-off") && !page.contains("qa-near"), "{page}");
    let page = search(&app, &cookie, "Do you sell bicycle tyres?").await;
    assert!(!page.contains("qa-near"), "{page}");
    app.stop().await.unwrap();
}
