// The GraphiQL page of crm-graph: everything it loads comes from this server.
// Its settings (example operations, headers) are the page's JSON block #graphiql-settings.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("graphiql-settings").textContent);
  // No subscriptions in the schema: plain HTTP POSTs to this server's /graphql.
  var fetcher = GraphiQL.createFetcher({ url: settings.url });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function Page() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: settings.query,
      defaultHeaders: settings.headers,
      defaultTabs: [
        { query: settings.query, variables: settings.variables, headers: settings.headers },
      ],
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      // The token stays out of the browser's storage: it is typed again after a reload.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Page));
})();
