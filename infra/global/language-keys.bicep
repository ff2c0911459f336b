// The Language and Search keys into Key Vault, read from the resources
// themselves at deploy time: no person copies a key, none is in this repo or
// in a deployment's outputs. Re-run after rotating a key
// (`az cognitiveservices account keys regenerate`).
//
// Per region: LanguageKeys-<region> = "<own key>,<paired region's key>", the
// order of that region's BOT__QNA__ENDPOINTS and BOT__LU__CLU_ENDPOINTS;
// LanguageKey-<region> and SearchAdminKey-<region> for the sync job.

param keyVaultName string

@description('The stamp regions, primary first.')
param regions array

@description('Resource group, Language account and Search service of each region, in the order of regions.')
param resourceGroups array
param languageNames array
param searchNames array

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource languages 'Microsoft.CognitiveServices/accounts@2023-05-01' existing = [for (n, i) in languageNames: {
  name: n
  scope: resourceGroup(resourceGroups[i])
}]

resource searches 'Microsoft.Search/searchServices@2023-11-01' existing = [for (n, i) in searchNames: {
  name: n
  scope: resourceGroup(resourceGroups[i])
}]

resource pairKeys 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for (region, i) in regions: {
  // checkov:skip=CKV_AZURE_41: the value is the resource's own key, valid until it is regenerated; an expiry date here would not expire the key, only break the reference.
  parent: vault
  name: 'LanguageKeys-${region}'
  properties: {
    contentType: 'text/plain'
    value: '${languages[i].listKeys().key1},${languages[1 - i].listKeys().key1}'
  }
}]

resource languageKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for (region, i) in regions: {
  // checkov:skip=CKV_AZURE_41: as above: the resource's own key.
  parent: vault
  name: 'LanguageKey-${region}'
  properties: {
    contentType: 'text/plain'
    value: languages[i].listKeys().key1
  }
}]

resource searchKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for (region, i) in regions: {
  // checkov:skip=CKV_AZURE_41: as above: the service's own admin key.
  parent: vault
  name: 'SearchAdminKey-${region}'
  properties: {
    contentType: 'text/plain'
    value: searches[i].listAdminKeys().primaryKey
  }
}]

output vaultUri string = vault.properties.vaultUri
