// Lighthouse on the web interface's document list and document page, signed in:
// the key is put into the tab's sessionStorage first (as the sign-in form does),
// and Lighthouse keeps it (disableStorageReset). Prints one JSON object.
//   node audit.mjs BASE_URL API_KEY DOCUMENT_ID
import puppeteer from "puppeteer-core";
import { startFlow } from "lighthouse";

const [base, key, documentId] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless=new"],
});
const page = await browser.newPage();
await page.goto(`${base}/ui/`);
await page.evaluate((k) => sessionStorage.setItem("kumocms.credential", k), key);
const flow = await startFlow(page, {
  config: {
    extends: "lighthouse:default",
    settings: { disableStorageReset: true, onlyCategories: ["performance", "accessibility", "best-practices"] },
  },
});
const pages = { list: `${base}/ui/#/`, document: `${base}/ui/#/documents/${documentId}` };
const results = {};
for (const url of Object.values(pages)) {
  // A fragment change is not a page load: leave the document first (the tab's
  // sessionStorage stays).
  await page.goto("about:blank");
  await flow.navigate(url);
}
const report = await flow.createFlowResult();
for (const [i, name] of Object.keys(pages).entries()) {
  const lhr = report.steps[i].lhr;
  const bytes = lhr.audits["total-byte-weight"].numericValue;
  results[name] = {
    url: lhr.finalDisplayedUrl,
    error: lhr.runtimeError ? lhr.runtimeError.code : undefined,
    performance: Math.round(lhr.categories.performance.score * 100),
    accessibility: Math.round(lhr.categories.accessibility.score * 100),
    best_practices: Math.round(lhr.categories["best-practices"].score * 100),
    transferred_bytes: bytes,
    failed: Object.values(lhr.audits)
      .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode === "binary")
      .map((a) => a.id),
  };
}
console.log(JSON.stringify(results, null, 2));
await browser.close();
