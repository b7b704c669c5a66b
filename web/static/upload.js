// 上传: files and folders sent one at a time as the request body (so the server streams each
// to disk), with progress; each row then says how the file was filed, with a link.
(function () {
  "use strict";

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text || "";              // text, never markup
    row.appendChild(td);
    return td;
  }

  function link(td, text, href) {
    td.textContent = "";
    if (!href) { td.textContent = text; return; }
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.appendChild(a);
  }

  function walk(entry, prefix, out) {   // a dropped folder, read through the entries API
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (f) { out.push({ file: f, path: prefix + f.name }); resolve(); },
          function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader();
        var all = [];
        var next = function () {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(all.map(function (e) { return walk(e, prefix + entry.name + "/", out); }))
                .then(resolve);
              return;
            }
            all = all.concat(Array.prototype.slice.call(batch));
            next();
          }, function () { resolve(); });
        };
        next();
      } else { resolve(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("upload");
    if (!box) { return; }
    var url = box.getAttribute("data-url");
    var token = box.getAttribute("data-token");
    var limit = parseInt(box.getAttribute("data-limit"), 10);
    var table = document.getElementById("results");
    var body = table.querySelector("tbody");
    var queue = [];
    var busy = false;
    var total = 0;
    var finished = 0;

    function overall() {
      document.getElementById("overall").hidden = false;
      document.getElementById("overall-bar").max = total;
      document.getElementById("overall-bar").value = finished;
      document.getElementById("overall-text").textContent =
        "已处理 " + finished + " / " + total + " 个文件" + (finished === total ? " (完成)" : "");
    }

    function send(item) {
      return new Promise(function (resolve) {
        var row = document.createElement("tr");
        var nameCell = cell(row, item.path, "path");
        var bar = document.createElement("progress");
        bar.max = item.file.size || 1;
        bar.value = 0;
        cell(row, "", "progress").appendChild(bar);
        var result = cell(row, "等待", "result");
        var why = cell(row, "", "why");
        body.appendChild(row);
        table.hidden = false;
        if (item.file.size > limit) {
          result.textContent = "未上传";
          why.textContent = "文件超过大小上限 (" + Math.round(limit / 1048576) + " MB); 请分卷扫描或降低分辨率";
          row.className = "out-refused";
          resolve();
          return;
        }
        var kind = document.getElementById("kind").value;
        var xhr = new XMLHttpRequest();
        xhr.open("POST", url + "?kind=" + encodeURIComponent(kind) + "&path=" + encodeURIComponent(item.path));
        xhr.setRequestHeader("X-CSRF-Token", token);
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) { bar.value = e.loaded; } };
        result.textContent = "上传中";
        xhr.onload = function () {
          bar.value = bar.max;
          var data = {};
          try { data = JSON.parse(xhr.responseText); } catch (err) { data = { error: "服务器没有给出结果 (" + xhr.status + ")" }; }
          if (data.error) {
            result.textContent = "未归档";
            why.textContent = data.error;
            row.className = "out-refused";
          } else {
            link(result, data.label, data.href);
            why.textContent = (data.code ? "档号 " + data.code + " · " : "") + (data.reason || data.record);
            row.className = "out-" + data.outcome;
          }
          nameCell.title = item.path;
          resolve();
        };
        xhr.onerror = function () {
          result.textContent = "未归档";
          why.textContent = "网络中断, 此文件没有归档; 请重新上传";
          row.className = "out-refused";
          resolve();
        };
        xhr.send(item.file);
      });
    }

    function settle() {   // the batch is done: the server refiles the tray, updates the index
      var xhr = new XMLHttpRequest();
      xhr.open("POST", box.getAttribute("data-done"));
      xhr.setRequestHeader("X-CSRF-Token", token);
      xhr.send();
    }

    function pump() {
      if (busy) { return; }
      var item = queue.shift();
      if (!item) { settle(); return; }
      busy = true;
      send(item).then(function () { busy = false; finished += 1; overall(); pump(); });
    }

    function add(items) {
      items.forEach(function (i) { queue.push(i); });
      total += items.length;
      overall();
      pump();
    }

    function fromInput(input) {
      var items = Array.prototype.map.call(input.files, function (f) {
        return { file: f, path: f.webkitRelativePath || f.name };
      });
      input.value = "";
      add(items);
    }

    document.getElementById("files").addEventListener("change", function () { fromInput(this); });
    document.getElementById("folder").addEventListener("change", function () { fromInput(this); });
    var drop = document.getElementById("drop");
    ["dragenter", "dragover"].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      drop.classList.remove("over");
      var entries = Array.prototype.map.call(e.dataTransfer.items || [], function (i) {
        return i.webkitGetAsEntry ? i.webkitGetAsEntry() : null;
      }).filter(Boolean);
      if (!entries.length) {
        add(Array.prototype.map.call(e.dataTransfer.files, function (f) { return { file: f, path: f.name }; }));
        return;
      }
      var out = [];
      Promise.all(entries.map(function (en) { return walk(en, "", out); })).then(function () { add(out); });
    });
  });
})();
