(function () {
  "use strict";
  var input = document.getElementById("q");
  var list = document.getElementById("results");
  var root = document.querySelector("link[rel=stylesheet]").getAttribute("href").replace("static/style.css", "");
  var index = [];
  fetch(root + "search.json").then(function (r) { return r.json(); }).then(function (data) {
    index = data;
    show();
  });
  function show() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.textContent = "";
    index.filter(function (entry) {
      var hay = entry.text;
      return words.every(function (w) { return hay.indexOf(w) >= 0; });
    }).slice(0, 40).forEach(function (entry) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = root + entry.path.replace(/^\//, "");
      link.textContent = entry.title;
      var text = document.createElement("p");
      text.textContent = entry.summary;
      item.appendChild(link);
      item.appendChild(text);
      list.appendChild(item);
    });
  }
  input.addEventListener("input", show);
})();
