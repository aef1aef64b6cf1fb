// Follows an upload's job until its result is there, then opens it (a few hundred rows: about a second).
(function () {
  var box = document.getElementById("job");
  if (!box) return;
  var url = box.getAttribute("data-status-url");
  var state = document.getElementById("job-state");
  var delay = 150;
  function poll() {
    fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      if (r.status === 401) { window.location = "/dang-nhap"; return null; }
      return r.json();
    }).then(function (job) {
      if (!job) return;
      if (job.status === "done" && job.next) { window.location = job.next; return; }
      if (job.status === "failed") {
        state.textContent = "Không xử lý được: " + (job.error || "lỗi không rõ") + ".";
        state.className = "error"; box.classList.add("failed"); return;
      }
      state.textContent = job.status === "queued"
        ? "Đang chờ xử lý" + (job.ahead ? " (" + job.ahead + " việc đang chờ trước)" : "") + "…"
        : "Đang kiểm tra…";
      delay = Math.min(delay * 1.15, 1000);
      setTimeout(poll, delay);
    }).catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, delay);
})();
